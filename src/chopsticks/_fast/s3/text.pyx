# Bounded writes and byte scanning, shared by the signer, the reply parser and the load.

cdef inline Buf buf_of(char *p, size_t cap) noexcept nogil:
    cdef Buf b
    b.p, b.len, b.cap, b.overflow = p, 0, cap, 0
    return b


cdef inline void put(Buf *b, const char *s, size_t n) noexcept nogil:
    if b.len + n > b.cap:
        b.overflow = 1
        return
    memcpy(b.p + b.len, s, n)
    b.len += n


cdef inline void put_str(Buf *b, const char *s) noexcept nogil:
    put(b, s, strlen(s))


cdef void put_uint(Buf *b, uint64_t v, int width) noexcept nogil:
    """v in decimal, zero-padded to width digits."""
    cdef char digits[24]
    cdef int i = 24
    while True:
        i -= 1
        digits[i] = <char>(48 + v % 10)
        v //= 10
        if v == 0 and 24 - i >= width:
            break
    put(b, digits + i, 24 - i)


cdef ssize_t find_bytes(const char *hay, size_t n, const char *needle, size_t m) noexcept nogil:
    """Index of the first needle in hay[0:n], or -1."""
    cdef size_t i
    if m > n:
        return -1
    for i in range(n - m + 1):
        if hay[i] == needle[0] and memcmp(hay + i, needle, m) == 0:
            return <ssize_t>i
    return -1
