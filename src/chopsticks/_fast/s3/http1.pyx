# HTTP/1.1 replies parsed as their bytes arrive, in any split: the header block, then a body
# framed by Content-Length, chunked transfer coding or the server's close.

cdef int parser_alloc(ReplyParser *p) noexcept nogil:
    p.head = <char *>malloc(HEAD_BYTES)
    p.kbuf = <char *>malloc(ERR_BODY_BYTES)
    p.kcap = ERR_BODY_BYTES
    return -1 if p.head == NULL or p.kbuf == NULL else 0


cdef void parser_free(ReplyParser *p) noexcept nogil:
    free(p.head)
    free(p.kbuf)
    p.head = p.kbuf = NULL


cdef void parser_reset(ReplyParser *p) noexcept nogil:
    """Ready for the reply to a new request (no_body and keep are the caller's to set)."""
    p.head_len = 0
    p.in_body = 0
    p.status = 0
    p.content_length = -1
    p.chunked = 0
    p.keep_alive = 1
    p.body_bytes = 0
    p.chunk_state = CHUNK_SIZE
    p.chunk_left = 0
    p.chunk_digits = 0
    p.hlen = 0
    p.klen = 0
    p.oom = 0


cdef void keep_bytes(ReplyParser *p, const char *data, size_t n) noexcept nogil:
    """Append to kbuf: growing it when the whole reply is kept, up to its size for an error body."""
    cdef size_t cap
    cdef char *grown
    if p.klen + n > p.kcap:
        if not p.keep:
            n = p.kcap - p.klen
        else:
            cap = p.kcap * 2 if p.kcap * 2 > p.klen + n else p.klen + n
            grown = <char *>realloc(p.kbuf, cap)
            if grown == NULL:
                p.oom = 1
                return
            p.kbuf, p.kcap = grown, cap
    memcpy(p.kbuf + p.klen, data, n)
    p.klen += n


cdef inline void deliver(ReplyParser *p, const char *data, size_t n) noexcept nogil:
    p.body_bytes += n
    if p.keep or p.status >= 300:
        keep_bytes(p, data, n)


cdef inline int hex_value(char ch) noexcept nogil:
    if 48 <= ch <= 57:
        return ch - 48
    if 97 <= ch <= 102:
        return ch - 87
    if 65 <= ch <= 70:
        return ch - 55
    return -1


cdef int end_of_size_line(ReplyParser *p) noexcept nogil:
    if p.chunk_digits == 0:
        return -1
    p.chunk_state = CHUNK_DATA if p.chunk_left else CHUNK_TRAILER
    return 0


cdef int feed_chunked(ReplyParser *p, const char *data, size_t n) noexcept nogil:
    """Decode chunked body bytes: 1 after the last chunk and the trailers, 0 for more, -1 if malformed."""
    cdef size_t i = 0, m
    cdef char ch
    cdef int d
    while i < n:
        if p.chunk_state == CHUNK_DATA:
            m = n - i if n - i < p.chunk_left else p.chunk_left
            deliver(p, data + i, m)
            i += m
            p.chunk_left -= m
            if p.chunk_left == 0:
                p.chunk_state = CHUNK_DATA_END
            continue
        ch = data[i]
        i += 1
        if p.chunk_state == CHUNK_SIZE:
            d = hex_value(ch)
            if d >= 0:
                if p.chunk_left >> 56:
                    return -1
                p.chunk_left = p.chunk_left * 16 + <uint64_t>d
                p.chunk_digits += 1
            elif ch == 10:
                if end_of_size_line(p) < 0:
                    return -1
            else:
                p.chunk_state = CHUNK_EXT
        elif p.chunk_state == CHUNK_EXT:
            if ch == 10 and end_of_size_line(p) < 0:
                return -1
        elif p.chunk_state == CHUNK_DATA_END:
            if ch == 10:
                p.chunk_state = CHUNK_SIZE
                p.chunk_digits = 0
            elif ch != 13:
                return -1
        elif p.chunk_state == CHUNK_TRAILER:
            if ch == 10:
                return 1
            if ch != 13:
                p.chunk_state = CHUNK_TRAILER_LINE
        elif ch == 10:
            p.chunk_state = CHUNK_TRAILER
    return 0


cdef int feed_body(ReplyParser *p, const char *data, size_t n) noexcept nogil:
    """1 when the body is complete, 0 for more, -1 if malformed."""
    if p.chunked:
        return feed_chunked(p, data, n)
    if p.content_length < 0:
        deliver(p, data, n)          # until the server closes
        return 0
    if n > <uint64_t>p.content_length - p.body_bytes:
        n = <uint64_t>p.content_length - p.body_bytes
    deliver(p, data, n)
    return p.body_bytes == <uint64_t>p.content_length


cdef bint lower_equals(const char *s, size_t n, const char *lower) noexcept nogil:
    cdef size_t i
    if n != strlen(lower):
        return False
    for i in range(n):
        if (s[i] | 32 if 65 <= s[i] <= 90 else s[i]) != lower[i]:
            return False
    return True


cdef int64_t parse_length(const char *s, size_t n) noexcept nogil:
    cdef int64_t v = 0
    cdef size_t i
    if n == 0 or n > 18:
        return -2
    for i in range(n):
        if not 48 <= s[i] <= 57:
            return -2
        v = v * 10 + (s[i] - 48)
    return v


cdef void header_field(ReplyParser *p, const char *name, size_t name_len, const char *value,
                       size_t value_len) noexcept nogil:
    if lower_equals(name, name_len, b"content-length"):
        p.content_length = parse_length(value, value_len)
    elif lower_equals(name, name_len, b"transfer-encoding"):
        p.chunked = lower_equals(value, value_len, b"chunked")
    elif lower_equals(name, name_len, b"connection"):
        if lower_equals(value, value_len, b"close"):
            p.keep_alive = 0
        elif lower_equals(value, value_len, b"keep-alive"):
            p.keep_alive = 1


cdef bint next_header(const char *s, size_t n, size_t *i, const char **name, size_t *name_len,
                      const char **value, size_t *value_len) noexcept nogil:
    """The next "name: value" line of the header block s[0:n] from i on (i moves past it), the
    value without surrounding blanks; False after the last."""
    cdef size_t start, colon, v, e
    while i[0] < n:
        start, colon = i[0], 0
        while i[0] < n and s[i[0]] != 10:
            if colon == 0 and s[i[0]] == 58:
                colon = i[0]
            i[0] += 1
        e = i[0]
        i[0] += 1
        if colon == 0:
            continue
        v = colon + 1
        while v < e and (s[v] == 32 or s[v] == 9):
            v += 1
        while e > v and (s[e - 1] == 13 or s[e - 1] == 32 or s[e - 1] == 9):
            e -= 1
        name[0], name_len[0], value[0], value_len[0] = s + start, colon - start, s + v, e - v
        return True
    return False


cdef int parse_head(ReplyParser *p, const char *s, size_t n) noexcept nogil:
    """Status, framing and keep-alive from a header block s[0:n] (ending in a blank line)."""
    cdef size_t i, name_len, value_len
    cdef const char *name
    cdef const char *value
    if n < 12 or memcmp(s, b"HTTP/1.", 7) != 0 or parse_length(s + 9, 3) < 0:
        return -1
    p.keep_alive = s[7] == 49
    p.status = <int>parse_length(s + 9, 3)
    i = <size_t>find_bytes(s, n, b"\n", 1) + 1
    while next_header(s, n, &i, &name, &name_len, &value, &value_len):
        header_field(p, name, name_len, value, value_len)
    return -1 if p.content_length == -2 else 0


cdef bint has_no_body(ReplyParser *p) noexcept nogil:
    return p.no_body or p.status < 200 or p.status == 204 or p.status == 304 or \
        (p.content_length == 0 and not p.chunked)


cdef int reply_feed(ReplyParser *p, const char *data, size_t n) noexcept nogil:
    """n more bytes of the reply: 1 when it is complete, 0 for more, -1 if malformed."""
    cdef size_t had = p.head_len, start = had - 3 if had > 3 else 0
    cdef size_t take = n if n < HEAD_BYTES - had else HEAD_BYTES - had
    cdef size_t head_len
    cdef ssize_t end
    if p.in_body:
        return feed_body(p, data, n)
    memcpy(p.head + had, data, take)
    p.head_len += take
    end = find_bytes(p.head + start, p.head_len - start, b"\r\n\r\n", 4)
    if end < 0:
        return -1 if p.head_len == HEAD_BYTES else 0
    head_len = start + <size_t>end + 4
    if parse_head(p, p.head, head_len) < 0:
        return -1
    p.in_body = 1
    if p.keep:
        keep_bytes(p, p.head, head_len)
        p.hlen = p.klen
    if has_no_body(p):
        return 1
    return feed_body(p, data + (head_len - had), n - (head_len - had))


cdef inline bint ends_at_close(ReplyParser *p) noexcept nogil:
    """Whether the server closing the connection completes the reply (a body framed by nothing)."""
    return p.in_body and not p.chunked and p.content_length < 0


cdef const char *kept_header(ReplyParser *p, const char *lower_name, size_t *n) noexcept nogil:
    """The value of a header of a kept reply (keep set), or NULL."""
    cdef size_t i = <size_t>find_bytes(p.kbuf, p.hlen, b"\n", 1) + 1, name_len
    cdef const char *name
    cdef const char *value
    while next_header(p.kbuf, p.hlen, &i, &name, &name_len, &value, n):
        if lower_equals(name, name_len, lower_name):
            return value
    return NULL
