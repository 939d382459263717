# AWS Signature Version 4 over libcrypto's SHA-256, and the signed HTTP/1.1 request head.

cdef const char *HEX = b"0123456789abcdef"
cdef const char *UNSIGNED_PAYLOAD = b"UNSIGNED-PAYLOAD"


cdef void hex_encode(const unsigned char *d, size_t n, char *out) noexcept nogil:
    cdef size_t i
    for i in range(n):
        out[2 * i] = HEX[d[i] >> 4]
        out[2 * i + 1] = HEX[d[i] & 15]


cdef void sha256_hex(const char *data, size_t n, char *out) noexcept nogil:
    cdef SHA256_CTX ctx
    cdef unsigned char digest[SHA256_DIGEST_LENGTH]
    SHA256_Init(&ctx)
    SHA256_Update(&ctx, data, n)
    SHA256_Final(digest, &ctx)
    hex_encode(digest, SHA256_DIGEST_LENGTH, out)


cdef void padded_sha256(const unsigned char *key_block, unsigned char pad, const void *data, size_t n,
                        unsigned char *out) noexcept nogil:
    """SHA-256 of (key_block XOR pad) followed by data: one half of an HMAC."""
    cdef unsigned char padded[SHA256_CBLOCK]
    cdef SHA256_CTX ctx
    cdef int i
    for i in range(SHA256_CBLOCK):
        padded[i] = key_block[i] ^ pad
    SHA256_Init(&ctx)
    SHA256_Update(&ctx, padded, SHA256_CBLOCK)
    SHA256_Update(&ctx, data, n)
    SHA256_Final(out, &ctx)


cdef void hmac_sha256(const unsigned char *key, size_t key_len, const char *msg, size_t n,
                      unsigned char *out) noexcept nogil:
    """RFC 2104 HMAC over libcrypto's SHA-256 (out may alias key)."""
    cdef unsigned char block[SHA256_CBLOCK]
    cdef unsigned char inner[SHA256_DIGEST_LENGTH]
    cdef SHA256_CTX ctx
    memset(block, 0, SHA256_CBLOCK)
    if key_len > SHA256_CBLOCK:
        SHA256_Init(&ctx)
        SHA256_Update(&ctx, key, key_len)
        SHA256_Final(block, &ctx)
    else:
        memcpy(block, key, key_len)
    padded_sha256(block, 0x36, msg, n, inner)
    padded_sha256(block, 0x5c, inner, SHA256_DIGEST_LENGTH, out)


cdef void set_date(Signer *s, const char *amz_date) noexcept nogil:
    """Sign as of amz_date; the signing key and scope change with its day."""
    cdef Buf b
    memcpy(s.amz_date, amz_date, 16)
    s.amz_date[16] = 0
    if s.scope[0] != 0 and memcmp(s.scope, amz_date, 8) == 0:
        return
    hmac_sha256(s.secret, s.secret_len, amz_date, 8, s.key)
    hmac_sha256(s.key, SHA256_DIGEST_LENGTH, s.region, strlen(s.region), s.key)
    hmac_sha256(s.key, SHA256_DIGEST_LENGTH, b"s3", 2, s.key)
    hmac_sha256(s.key, SHA256_DIGEST_LENGTH, b"aws4_request", 12, s.key)
    b = buf_of(s.scope, sizeof(s.scope) - 1)
    put(&b, amz_date, 8)
    put(&b, b"/", 1)
    put_str(&b, s.region)
    put_str(&b, b"/s3/aws4_request")
    s.scope[b.len] = 0


cdef void tick(Signer *s) noexcept nogil:
    """Keep amz_date at the current UTC second."""
    cdef timespec t
    cdef tm d
    cdef char text[17]
    cdef Buf b = buf_of(text, 16)
    clock_gettime(CLOCK_REALTIME, &t)
    if t.tv_sec == s.clock_sec:
        return
    s.clock_sec = t.tv_sec
    gmtime_r(&s.clock_sec, &d)
    put_uint(&b, d.tm_year + 1900, 4)
    put_uint(&b, d.tm_mon + 1, 2)
    put_uint(&b, d.tm_mday, 2)
    put(&b, b"T", 1)
    put_uint(&b, d.tm_hour, 2)
    put_uint(&b, d.tm_min, 2)
    put_uint(&b, d.tm_sec, 2)
    put(&b, b"Z", 1)
    set_date(s, text)


cdef void sign(Signer *s, const char *canonical, size_t n, char *signature) noexcept nogil:
    """The HEX_DIGEST hex digits of the signature of a canonical request."""
    cdef char sts[256]
    cdef unsigned char mac[SHA256_DIGEST_LENGTH]
    cdef Buf b = buf_of(sts, sizeof(sts))
    put_str(&b, b"AWS4-HMAC-SHA256\n")
    put(&b, s.amz_date, 16)
    put(&b, b"\n", 1)
    put_str(&b, s.scope)
    put(&b, b"\n", 1)
    if b.len + HEX_DIGEST <= b.cap:
        sha256_hex(canonical, n, b.p + b.len)
        b.len += HEX_DIGEST
    hmac_sha256(s.key, SHA256_DIGEST_LENGTH, sts, b.len, mac)
    hex_encode(mac, SHA256_DIGEST_LENGTH, signature)


cdef inline void set_head(Head *h, const char *name, const char *value, size_t value_len) noexcept nogil:
    h.name, h.value, h.value_len = name, value, value_len


cdef void put_header(Buf *canon, Buf *names, Buf *head, const char *name, size_t name_len,
                     const char *value, size_t value_len) noexcept nogil:
    """One signed header: its canonical line, its name in SignedHeaders, its line in the request."""
    put(canon, name, name_len)
    put(canon, b":", 1)
    put(canon, value, value_len)
    put(canon, b"\n", 1)
    if names.len:
        put(names, b";", 1)
    put(names, name, name_len)
    put(head, name, name_len)
    put(head, b": ", 2)
    put(head, value, value_len)
    put(head, b"\r\n", 2)


cdef void put_headers(Buf *canon, Buf *names, Buf *head, Head *std, int n_std,
                      const char *extra, size_t extra_len) noexcept nogil:
    """The standard headers merged in name order with the caller's extra ones."""
    cdef const char *p = extra
    cdef const char *end = extra + extra_len
    cdef ssize_t eol, colon
    cdef size_t name_len, std_len
    cdef int i = 0, cmp
    while p < end:
        eol = find_bytes(p, end - p, b"\n", 1)
        if eol < 0:
            eol = end - p
        colon = find_bytes(p, eol, b":", 1)
        name_len = colon if colon >= 0 else eol
        while i < n_std:
            std_len = strlen(std[i].name)
            cmp = memcmp(std[i].name, p, std_len if std_len < name_len else name_len)
            if cmp > 0 or (cmp == 0 and std_len >= name_len):
                break
            put_header(canon, names, head, std[i].name, std_len, std[i].value, std[i].value_len)
            i += 1
        put_header(canon, names, head, p, name_len, p + name_len + 1, eol - name_len - 1 if colon >= 0 else 0)
        p += eol + 1
    while i < n_std:
        put_header(canon, names, head, std[i].name, strlen(std[i].name), std[i].value, std[i].value_len)
        i += 1


cdef int format_request(Signer *s, const char *host, int payload_sha256, Req *r, Buf *canon,
                        Buf *head) noexcept nogil:
    """The signed request line and headers of r into head (canon is scratch); -1 if too long."""
    cdef char payload_hash[HEX_DIGEST]
    cdef char signature[HEX_DIGEST]
    cdef char names_buf[1024]
    cdef Buf names = buf_of(names_buf, sizeof(names_buf))
    cdef Head std[3]
    if payload_sha256:
        sha256_hex(r.body, r.body_len, payload_hash)
    else:
        memcpy(payload_hash, UNSIGNED_PAYLOAD, 16)
    set_head(&std[0], b"host", host, strlen(host))
    set_head(&std[1], b"x-amz-content-sha256", payload_hash, HEX_DIGEST if payload_sha256 else 16)
    set_head(&std[2], b"x-amz-date", s.amz_date, 16)
    put_str(canon, r.method)
    put(canon, b"\n", 1)
    put(canon, r.path, r.path_len)
    put(canon, b"\n", 1)
    put(canon, r.query, r.query_len)
    put(canon, b"\n", 1)
    put_str(head, r.method)
    put(head, b" ", 1)
    put(head, r.path, r.path_len)
    if r.query_len:
        put(head, b"?", 1)
        put(head, r.query, r.query_len)
    put_str(head, b" HTTP/1.1\r\n")
    put_headers(canon, &names, head, std, 3, r.headers, r.headers_len)
    put(canon, b"\n", 1)
    put(canon, names.p, names.len)
    put(canon, b"\n", 1)
    put(canon, std[1].value, std[1].value_len)
    if canon.overflow or names.overflow:
        return -1
    sign(s, canon.p, canon.len, signature)
    put_str(head, b"Authorization: AWS4-HMAC-SHA256 Credential=")
    put_str(head, s.access_key)
    put(head, b"/", 1)
    put_str(head, s.scope)
    put_str(head, b",SignedHeaders=")
    put(head, names.p, names.len)
    put_str(head, b",Signature=")
    put(head, signature, HEX_DIGEST)
    put(head, b"\r\n", 2)
    if r.has_body:
        put_str(head, b"Content-Length: ")
        put_uint(head, r.body_len, 1)
        put(head, b"\r\n", 2)
    put(head, b"\r\n", 2)
    return -1 if head.overflow else 0


def signed_request(str host, str access_key, str secret_key, str region, str amz_date, str method,
                   bytes path, bytes query=b"", bytes headers=b"", bytes body=b"",
                   bint payload_sha256=False):
    """The request head the client would send at amz_date (YYYYMMDDTHHMMSSZ), for checking the
    signer against AWS's published examples."""
    cdef Signer s
    cdef char canon_buf[REQ_BYTES]
    cdef char head_buf[REQ_BYTES]
    cdef Buf canon = buf_of(canon_buf, REQ_BYTES)
    cdef Buf head = buf_of(head_buf, REQ_BYTES)
    cdef bytes b_method = method.encode(), b_host = host.encode()
    cdef Req r = Req(b_method, path, len(path), query, len(query), headers, len(headers), body,
                     len(body), method in ("PUT", "POST"))
    init_signer(&s, access_key, secret_key, region)
    set_date(&s, amz_date.encode())
    if format_request(&s, b_host, payload_sha256, &r, &canon, &head) < 0:
        raise ValueError("request too long")
    return head_buf[:head.len]


cdef int init_signer(Signer *s, str access_key, str secret_key, str region) except -1:
    cdef bytes ak = access_key.encode(), sk = b"AWS4" + secret_key.encode(), rg = region.encode()
    if len(ak) >= <Py_ssize_t>sizeof(s.access_key) or len(sk) > <Py_ssize_t>sizeof(s.secret) \
            or len(rg) >= <Py_ssize_t>sizeof(s.region):
        raise ValueError("access key, secret key or region too long")
    memset(s, 0, sizeof(Signer))
    memcpy(s.access_key, <const char *>ak, len(ak))
    memcpy(s.secret, <const char *>sk, len(sk))
    s.secret_len = len(sk)
    memcpy(s.region, <const char *>rg, len(rg))
    s.clock_sec = -1
    return 0
