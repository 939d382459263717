# cython: language_level=3
# distutils: define_macros=OPENSSL_API_COMPAT=0x10101000L
"""A compiled S3 client: HTTP/1.1 keep-alive connections on non-blocking sockets driven by epoll,
requests signed with AWS SigV4, without the GIL.

`S3Client` makes one blocking request at a time (the `native` driver). `S3Load` keeps one request
in flight on each of its connections and records every completion into a worker's shared-memory
rows (the `bench s3 --driver native` loop). Both run the same per-connection state machine:

    idle ─start─► connecting ─► sending ─► head ─► body ─► idle (reply, or a failure code)

A request that fails (socket error, timeout, malformed reply) closes its connection; the next
request on it reconnects, and that reconnect is timed. Nothing is retried here."""
from libc.stdint cimport uint64_t, int64_t
from libc.stdlib cimport calloc, malloc, realloc, free
from libc.string cimport memcpy, memset, memcmp, strlen
from libc.errno cimport errno, EINTR, EAGAIN, EINPROGRESS
from libc.time cimport time_t, tm, gmtime_r
from posix.time cimport clock_gettime, timespec, CLOCK_REALTIME
from posix.unistd cimport close
from posix.uio cimport iovec
cimport numpy as cnp

from chopsticks._fast.libcrypto cimport *
from chopsticks._fast.sockets cimport *
from chopsticks._fast.histogram cimport Recorder, init_recorder, record_ok, record_error, record_stall, now_ns
from chopsticks._fast.payload cimport alloc_aligned, fill, splitmix64, PATTERN_RANDOM

cdef enum:
    RBUF_BYTES = 65536           # socket reads; a reply's header block must fit
    REQ_BYTES = 16384            # request line + headers
    ERR_BODY_BYTES = 4096        # kept of an error reply's body, for its <Code>
    PATH_BYTES = 1280            # the load's object paths: base + serial
    SERIAL_DIGITS = 12
    MAX_S3_CODES = 16
    S3_CODE_BYTES = 40
    SCAN_NS = 100000000          # how often the load looks for stalled and timed-out requests
    HEX_DIGEST = 64              # a SHA-256 in hex

    # Operations, in OP_NAMES order; the two last slots time parts of other operations.
    OP_PUT = 0
    OP_GET = 1
    OP_DELETE = 2
    OP_HEAD = 3
    OP_LIST = 4
    OP_GET_TTFB = 5              # a GET's time to the first byte of the reply
    OP_RECONNECT = 6             # the TCP connect an operation had to make first
    N_S3_OPS = 5

    # Connection states.
    ST_IDLE = 0
    ST_CONNECTING = 1
    ST_SENDING = 2
    ST_HEAD = 3
    ST_BODY = 4

    # What a step of the state machine says.
    PENDING = 0
    DONE = 1
    RETIRE = 2                   # the load has nothing more for this connection

    # Chunked transfer decoding.
    CH_SIZE = 0
    CH_EXT = 1
    CH_DATA = 2
    CH_DATA_END = 3
    CH_TRAILER = 4
    CH_TRAILER_LINE = 5

    # Failure codes (0 = a reply arrived). Below CODE_S3: 1 + an ERROR_KINDS index, given by the
    # Python layer (timeout_code, other_code). chopsticks.drivers.s3.native_driver names them.
    CODE_S3 = 32                 # + index of the reply's <Code> in the s3_codes table
    CODE_HTTP = 100              # + HTTP status, for an error reply whose <Code> is not in the table
    CODE_ERRNO = 700             # + errno of a socket call; + 0: the peer closed the connection
    CODE_ERRNO_MAX = 999

OP_NAMES = ("put", "get", "delete", "head", "list", "get.ttfb", "reconnect")
CODES = {"s3": CODE_S3, "http": CODE_HTTP, "errno": CODE_ERRNO, "errno_max": CODE_ERRNO_MAX}

cdef const char *METHOD[N_S3_OPS]
METHOD[OP_PUT] = b"PUT"
METHOD[OP_GET] = b"GET"
METHOD[OP_DELETE] = b"DELETE"
METHOD[OP_HEAD] = b"HEAD"
METHOD[OP_LIST] = b"GET"

cdef const char *HEX = b"0123456789abcdef"
cdef const char *UNSIGNED_PAYLOAD = b"UNSIGNED-PAYLOAD"


# ---- bounded writes ---------------------------------------------------------------------------

cdef struct Buf:
    char *p
    size_t len
    size_t cap
    int overflow


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


# ---- SigV4 ------------------------------------------------------------------------------------

cdef struct Signer:
    char access_key[128]
    unsigned char secret[128]    # "AWS4" + the secret key: the key of the date's HMAC
    size_t secret_len
    char region[64]
    char amz_date[17]            # YYYYMMDDTHHMMSSZ
    char scope[128]              # YYYYMMDD/region/s3/aws4_request
    unsigned char key[SHA256_DIGEST_LENGTH]   # the signing key of the scope's day
    time_t clock_sec             # the second amz_date was taken


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


# ---- request building -------------------------------------------------------------------------

cdef struct Req:
    const char *method
    const char *path             # URI-encoded, from the leading /
    size_t path_len
    const char *query            # canonical: sorted, URI-encoded name=value pairs joined by &
    size_t query_len
    const char *headers          # extra signed headers, "name:value\n" lines, lower-case, sorted
    size_t headers_len
    const char *body
    size_t body_len
    int has_body                 # send Content-Length (PUT, POST) even for an empty body


cdef struct Head:
    const char *name
    const char *value
    size_t value_len


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


# ---- connections ------------------------------------------------------------------------------

cdef struct Conn:
    int index
    int fd
    int state
    unsigned int events          # registered with epoll (0: not registered)
    # the request
    char *req
    size_t req_len
    const char *body
    size_t body_len
    size_t sent
    int is_head
    # the reply
    char *rbuf
    size_t rlen
    int status
    int64_t content_length       # -1: not given
    int chunked
    int keep_alive
    uint64_t body_bytes
    int chunk_state
    uint64_t chunk_left
    int chunk_digits
    int keep                     # keep the whole reply (driver); else only an error body
    char *kbuf                   # kept: header block [0:hlen], then body [hlen:klen]
    size_t hlen
    size_t klen
    size_t kcap
    int oom
    int code                     # 0: a reply arrived (see status); else a failure code
    # timing
    uint64_t submit_ns
    uint64_t first_byte_ns
    uint64_t done_ns
    uint64_t reconnect_ns        # the TCP connect this request made first, 0 if none
    int stalled
    # the load's bookkeeping
    int op
    uint64_t key
    uint64_t *keys               # serials of this connection's objects
    size_t nkeys
    size_t cap_keys
    char *path
    size_t path_len


cdef struct Pool:
    Conn *conns
    int n
    int epfd
    epoll_event *events
    char *scratch                # the canonical request being signed
    Signer signer
    char host[256]
    sockaddr_storage addr
    socklen_t addr_len
    uint64_t timeout_ns
    int tcp_nodelay
    int tcp_quickack
    int payload_sha256
    int timeout_code
    int other_code
    char s3_codes[MAX_S3_CODES][S3_CODE_BYTES]
    int n_s3_codes
    uint64_t connects


cdef void close_conn(Conn *c) noexcept nogil:
    if c.fd >= 0:
        close(c.fd)                  # also leaves the epoll set
        c.fd = -1
    c.events = 0


cdef int set_events(Pool *pl, Conn *c, unsigned int mask) noexcept nogil:
    cdef epoll_event ev
    cdef int r
    if c.events == mask:
        return 0
    ev.events = mask
    ev.data.u64 = <unsigned long>c.index
    r = epoll_ctl(pl.epfd, EPOLL_CTL_MOD if c.events else EPOLL_CTL_ADD, c.fd, &ev)
    if r == 0:
        c.events = mask
    return r


cdef int open_socket(Pool *pl, Conn *c) noexcept nogil:
    """0: connected; 1: connecting; < 0: -errno."""
    cdef int one = 1, err
    cdef int fd = socket(pl.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)
    if fd < 0:
        return -errno
    if pl.tcp_nodelay:
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one))
    if pl.tcp_quickack:
        setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one))
    c.fd = fd
    c.events = 0
    pl.connects += 1
    if connect(fd, <sockaddr *>&pl.addr, pl.addr_len) == 0:
        return 0
    if errno == EINPROGRESS:
        return 1
    err = errno
    close_conn(c)
    return -err


cdef int connect_error(Conn *c) noexcept nogil:
    cdef int err = 0
    cdef socklen_t n = sizeof(err)
    if getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &n) < 0:
        return errno
    return err


cdef int finish(Pool *pl, Conn *c) noexcept nogil:
    """A whole reply arrived."""
    c.done_ns = now_ns()
    c.code = pl.other_code if c.oom else 0
    if not c.keep_alive or c.sent < c.req_len + c.body_len:
        close_conn(c)
    c.state = ST_IDLE
    return DONE


cdef int fail(Conn *c, int code) noexcept nogil:
    c.done_ns = now_ns()
    c.code = code
    close_conn(c)
    c.state = ST_IDLE
    return DONE


cdef void keep_bytes(Conn *c, const char *p, size_t n) noexcept nogil:
    """Append to kbuf: growing it for the driver, up to its size for an error body."""
    cdef size_t cap
    cdef char *grown
    if c.klen + n > c.kcap:
        if not c.keep:
            n = c.kcap - c.klen
        else:
            cap = c.kcap * 2 if c.kcap * 2 > c.klen + n else c.klen + n
            grown = <char *>realloc(c.kbuf, cap)
            if grown == NULL:
                c.oom = 1
                return
            c.kbuf, c.kcap = grown, cap
    memcpy(c.kbuf + c.klen, p, n)
    c.klen += n


cdef inline void deliver(Conn *c, const char *p, size_t n) noexcept nogil:
    c.body_bytes += n
    if c.keep or c.status >= 300:
        keep_bytes(c, p, n)


cdef inline int hex_value(char ch) noexcept nogil:
    if 48 <= ch <= 57:
        return ch - 48
    if 97 <= ch <= 102:
        return ch - 87
    if 65 <= ch <= 70:
        return ch - 55
    return -1


cdef int end_of_size_line(Conn *c) noexcept nogil:
    if c.chunk_digits == 0:
        return -1
    c.chunk_state = CH_DATA if c.chunk_left else CH_TRAILER
    return 0


cdef int feed_chunked(Conn *c, const char *p, size_t n) noexcept nogil:
    """Decode chunked body bytes: 1 after the last chunk and the trailers, 0 for more, -1 if malformed."""
    cdef size_t i = 0, m
    cdef char ch
    cdef int d
    while i < n:
        if c.chunk_state == CH_DATA:
            m = n - i if n - i < c.chunk_left else c.chunk_left
            deliver(c, p + i, m)
            i += m
            c.chunk_left -= m
            if c.chunk_left == 0:
                c.chunk_state = CH_DATA_END
            continue
        ch = p[i]
        i += 1
        if c.chunk_state == CH_SIZE:
            d = hex_value(ch)
            if d >= 0:
                if c.chunk_left >> 56:
                    return -1
                c.chunk_left = c.chunk_left * 16 + <uint64_t>d
                c.chunk_digits += 1
            elif ch == 10:
                if end_of_size_line(c) < 0:
                    return -1
            else:
                c.chunk_state = CH_EXT
        elif c.chunk_state == CH_EXT:
            if ch == 10 and end_of_size_line(c) < 0:
                return -1
        elif c.chunk_state == CH_DATA_END:
            if ch == 10:
                c.chunk_state = CH_SIZE
                c.chunk_digits = 0
            elif ch != 13:
                return -1
        elif c.chunk_state == CH_TRAILER:
            if ch == 10:
                return 1
            if ch != 13:
                c.chunk_state = CH_TRAILER_LINE
        elif ch == 10:
            c.chunk_state = CH_TRAILER
    return 0


cdef int feed_body(Conn *c, const char *p, size_t n) noexcept nogil:
    """1 when the body is complete, 0 for more, -1 if malformed."""
    if c.chunked:
        return feed_chunked(c, p, n)
    if c.content_length < 0:
        deliver(c, p, n)             # until the server closes
        return 0
    if n > <uint64_t>c.content_length - c.body_bytes:
        n = <uint64_t>c.content_length - c.body_bytes
    deliver(c, p, n)
    return c.body_bytes == <uint64_t>c.content_length


cdef bint lower_equals(const char *p, size_t n, const char *lower) noexcept nogil:
    cdef size_t i
    if n != strlen(lower):
        return False
    for i in range(n):
        if (p[i] | 32 if 65 <= p[i] <= 90 else p[i]) != lower[i]:
            return False
    return True


cdef int64_t parse_length(const char *p, size_t n) noexcept nogil:
    cdef int64_t v = 0
    cdef size_t i
    if n == 0 or n > 18:
        return -2
    for i in range(n):
        if not 48 <= p[i] <= 57:
            return -2
        v = v * 10 + (p[i] - 48)
    return v


cdef void header_field(Conn *c, const char *name, size_t name_len, const char *value, size_t value_len) noexcept nogil:
    if lower_equals(name, name_len, b"content-length"):
        c.content_length = parse_length(value, value_len)
    elif lower_equals(name, name_len, b"transfer-encoding"):
        c.chunked = lower_equals(value, value_len, b"chunked")
    elif lower_equals(name, name_len, b"connection"):
        if lower_equals(value, value_len, b"close"):
            c.keep_alive = 0
        elif lower_equals(value, value_len, b"keep-alive"):
            c.keep_alive = 1


cdef int parse_head(Conn *c, const char *p, size_t n) noexcept nogil:
    """Status, framing and keep-alive from a header block p[0:n] (ending in a blank line)."""
    cdef size_t i, start, colon, v, e
    if n < 12 or memcmp(p, b"HTTP/1.", 7) != 0 or parse_length(p + 9, 3) < 0:
        return -1
    c.keep_alive = p[7] == 49
    c.status = <int>parse_length(p + 9, 3)
    i = <size_t>find_bytes(p, n, b"\n", 1) + 1
    while i < n:
        start = i
        colon = 0
        while i < n and p[i] != 10:
            if colon == 0 and p[i] == 58:
                colon = i
            i += 1
        e = i
        i += 1
        if colon == 0:
            continue
        v = colon + 1
        while v < e and (p[v] == 32 or p[v] == 9):
            v += 1
        while e > v and (p[e - 1] == 13 or p[e - 1] == 32 or p[e - 1] == 9):
            e -= 1
        header_field(c, p + start, colon - start, p + v, e - v)
    return -1 if c.content_length == -2 else 0


cdef bint has_no_body(Conn *c) noexcept nogil:
    return c.is_head or c.status < 200 or c.status == 204 or c.status == 304 or \
        (c.content_length == 0 and not c.chunked)


cdef int got_head_bytes(Conn *c, size_t n) noexcept nogil:
    """n more bytes of the header block arrived at rbuf[rlen]: 1 if the reply is complete, 0 for
    more, -1 if malformed."""
    cdef size_t start = c.rlen - 3 if c.rlen > 3 else 0
    cdef ssize_t end
    cdef size_t head_len
    c.rlen += n
    end = find_bytes(c.rbuf + start, c.rlen - start, b"\r\n\r\n", 4)
    if end < 0:
        return -1 if c.rlen == RBUF_BYTES else 0
    head_len = start + <size_t>end + 4
    if parse_head(c, c.rbuf, head_len) < 0:
        return -1
    c.state = ST_BODY
    if c.keep:
        keep_bytes(c, c.rbuf, head_len)
        c.hlen = c.klen
    if has_no_body(c):
        return 1
    return feed_body(c, c.rbuf + head_len, c.rlen - head_len)


cdef int on_readable(Pool *pl, Conn *c) noexcept nogil:
    cdef ssize_t r
    cdef size_t room
    cdef int one = 1, done
    while True:
        room = RBUF_BYTES - c.rlen if c.state == ST_HEAD else RBUF_BYTES
        r = recv(c.fd, c.rbuf + (c.rlen if c.state == ST_HEAD else 0), room, 0)
        if r < 0:
            if errno == EINTR:
                continue
            if errno == EAGAIN:
                return PENDING
            return fail(c, CODE_ERRNO + errno)
        if r == 0:
            if c.state == ST_BODY and not c.chunked and c.content_length < 0:
                c.keep_alive = 0
                return finish(pl, c)
            return fail(c, CODE_ERRNO)
        if c.first_byte_ns == 0:
            c.first_byte_ns = now_ns()
        done = got_head_bytes(c, r) if c.state == ST_HEAD else feed_body(c, c.rbuf, r)
        if done < 0:
            return fail(c, pl.other_code)
        if done:
            return finish(pl, c)
        if pl.tcp_quickack:
            # ACK what arrived now, so that a server holding the rest of the reply back until
            # then (Nagle) sends it at once; Linux leaves quick-ack mode on its own, so this is
            # redone after every read that leaves the reply incomplete.
            setsockopt(c.fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one))
        if <size_t>r < room:
            return PENDING


cdef int send_some(Pool *pl, Conn *c) noexcept nogil:
    """Send what is left of the request; then wait for the reply."""
    cdef iovec iov[2]
    cdef msghdr msg
    cdef ssize_t r
    cdef size_t total = c.req_len + c.body_len
    while c.sent < total:
        memset(&msg, 0, sizeof(msg))
        msg.msg_iov = iov
        if c.sent < c.req_len:
            iov[0].iov_base = c.req + c.sent
            iov[0].iov_len = c.req_len - c.sent
            iov[1].iov_base = <void *>c.body
            iov[1].iov_len = c.body_len
            msg.msg_iovlen = 2 if c.body_len else 1
        else:
            iov[0].iov_base = <void *>(c.body + (c.sent - c.req_len))
            iov[0].iov_len = total - c.sent
            msg.msg_iovlen = 1
        r = sendmsg(c.fd, &msg, MSG_NOSIGNAL)
        if r < 0:
            if errno == EINTR:
                continue
            if errno == EAGAIN:
                return PENDING if set_events(pl, c, EPOLLIN | EPOLLOUT) == 0 else fail(c, CODE_ERRNO + errno)
            return fail(c, CODE_ERRNO + errno)
        c.sent += r
    c.state = ST_HEAD
    return PENDING if set_events(pl, c, EPOLLIN) == 0 else fail(c, CODE_ERRNO + errno)


cdef int on_writable(Pool *pl, Conn *c) noexcept nogil:
    cdef int err
    if c.state == ST_CONNECTING:
        err = connect_error(c)
        if err:
            return fail(c, CODE_ERRNO + err)
        c.reconnect_ns = now_ns() - c.submit_ns
        c.state = ST_SENDING
    return send_some(pl, c)


cdef int on_event(Pool *pl, Conn *c, unsigned int events) noexcept nogil:
    if c.state == ST_HEAD or c.state == ST_BODY:
        return on_readable(pl, c)
    if c.state == ST_SENDING and events & EPOLLIN:
        c.state = ST_HEAD            # the server answered before taking the whole body
        return on_readable(pl, c)
    return on_writable(pl, c)


cdef void reset_reply(Conn *c) noexcept nogil:
    c.sent = 0
    c.rlen = 0
    c.status = 0
    c.content_length = -1
    c.chunked = 0
    c.keep_alive = 1
    c.body_bytes = 0
    c.chunk_state = CH_SIZE
    c.chunk_left = 0
    c.chunk_digits = 0
    c.hlen = 0
    c.klen = 0
    c.oom = 0
    c.code = 0
    c.first_byte_ns = 0
    c.reconnect_ns = 0
    c.stalled = 0


cdef int start(Pool *pl, Conn *c, uint64_t now) noexcept nogil:
    """Send the request built in c.req (connecting first if needed)."""
    cdef int r
    c.submit_ns = now
    reset_reply(c)
    if c.fd < 0:
        r = open_socket(pl, c)
        if r < 0:
            return fail(c, CODE_ERRNO - r)
        if r > 0:
            c.state = ST_CONNECTING
            return PENDING if set_events(pl, c, EPOLLOUT) == 0 else fail(c, CODE_ERRNO + errno)
        c.reconnect_ns = now_ns() - now
    c.state = ST_SENDING
    return send_some(pl, c)


cdef int build(Pool *pl, Conn *c, Req *r) noexcept nogil:
    cdef Buf canon = buf_of(pl.scratch, REQ_BYTES)
    cdef Buf head = buf_of(c.req, REQ_BYTES)
    tick(&pl.signer)
    if format_request(&pl.signer, pl.host, pl.payload_sha256, r, &canon, &head) < 0:
        return -1
    c.req_len = head.len
    c.body = r.body
    c.body_len = r.body_len
    return 0


cdef int error_code(Pool *pl, Conn *c) noexcept nogil:
    """The failure code of an error reply: its S3 <Code> if known, else its HTTP status."""
    cdef const char *body = c.kbuf + c.hlen
    cdef size_t n = c.klen - c.hlen
    cdef ssize_t open_tag = find_bytes(body, n, b"<Code>", 6), close_tag
    cdef int i
    if open_tag >= 0:
        body += open_tag + 6
        n -= open_tag + 6
        close_tag = find_bytes(body, n, b"<", 1)
        for i in range(pl.n_s3_codes):
            if close_tag == <ssize_t>strlen(pl.s3_codes[i]) and memcmp(body, pl.s3_codes[i], close_tag) == 0:
                return CODE_S3 + i
    return CODE_HTTP + (c.status if 0 <= c.status < 600 else 0)


cdef int connect_now(Pool *pl, Conn *c) noexcept nogil:
    """Open c's connection, waiting up to the timeout: 0 or a failure code."""
    cdef epoll_event ev
    cdef int r = open_socket(pl, c), n, err
    cdef uint64_t t0 = now_ns()
    if r < 0:
        return CODE_ERRNO - r
    if r > 0:
        if set_events(pl, c, EPOLLOUT) < 0:
            err = errno
            close_conn(c)
            return CODE_ERRNO + err
        while True:
            n = epoll_wait(pl.epfd, &ev, 1, <int>((pl.timeout_ns - (now_ns() - t0)) // 1000000) + 1)
            if n > 0 and ev.data.u64 == <unsigned long>c.index:
                break
            if now_ns() - t0 >= pl.timeout_ns:
                close_conn(c)
                return pl.timeout_code
        err = connect_error(c)
        if err:
            close_conn(c)
            return CODE_ERRNO + err
    return 0 if set_events(pl, c, EPOLLIN) == 0 else CODE_ERRNO + errno


cdef void drop_if_closed(Conn *c) noexcept nogil:
    """Close a connection the server closed (or wrote to) while it was idle, so the next request
    opens a new one instead of failing on it."""
    cdef char b
    if c.fd >= 0 and (recv(c.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) >= 0 or errno != EAGAIN):
        close_conn(c)


cdef void run_one(Pool *pl, Conn *c) noexcept nogil:
    """One request, blocking until its reply, a failure or the timeout."""
    cdef epoll_event ev
    cdef int r = start(pl, c, now_ns()), n
    cdef uint64_t waited
    while r == PENDING:
        waited = now_ns() - c.submit_ns
        if waited >= pl.timeout_ns:
            fail(c, pl.timeout_code)
            return
        n = epoll_wait(pl.epfd, &ev, 1, <int>((pl.timeout_ns - waited) // 1000000) + 1)
        if n > 0:
            r = on_event(pl, c, ev.events)
        elif n < 0 and errno != EINTR:
            fail(c, CODE_ERRNO + errno)
            return


cdef class S3Client:
    """`connections` keep-alive HTTP/1.1 connections to one S3 endpoint, signing with SigV4."""
    cdef Pool pool

    def __init__(self, *, int family, str address, int port, str host, str access_key, str secret_key,
                 str region, int connections=1, double timeout_s=30.0, bint tcp_nodelay=False,
                 bint tcp_quickack=False, bint payload_sha256=False, tuple s3_codes=(),
                 int timeout_code, int other_code):
        cdef Pool *pl = &self.pool
        cdef bytes b_host = host.encode()
        cdef int i
        if len(b_host) >= <Py_ssize_t>sizeof(pl.host) or len(s3_codes) > MAX_S3_CODES:
            raise ValueError("host name or S3 code table too long")
        init_signer(&pl.signer, access_key, secret_key, region)
        memcpy(pl.host, <const char *>b_host, len(b_host))
        self._set_address(family, address, port)
        pl.timeout_ns = <uint64_t>(timeout_s * 1e9)
        pl.tcp_nodelay, pl.tcp_quickack, pl.payload_sha256 = tcp_nodelay, tcp_quickack, payload_sha256
        pl.timeout_code, pl.other_code = timeout_code, other_code
        for i, code in enumerate(s3_codes):
            b_code = code.encode()
            if len(b_code) >= S3_CODE_BYTES:
                raise ValueError(f"S3 code {code!r} too long")
            memcpy(pl.s3_codes[i], <const char *>b_code, len(b_code))
        pl.n_s3_codes = len(s3_codes)
        self._allocate(connections)

    def __cinit__(self, *args, **kwargs):
        self.pool.epfd = -1

    cdef int _set_address(self, int family, str address, int port) except -1:
        cdef Pool *pl = &self.pool
        cdef sockaddr_in *v4 = <sockaddr_in *>&pl.addr
        cdef sockaddr_in6 *v6 = <sockaddr_in6 *>&pl.addr
        cdef bytes b_address = address.encode()
        cdef int ok
        if family == AF_INET:
            v4.sin_family, v4.sin_port, pl.addr_len = AF_INET, htons(port), sizeof(sockaddr_in)
            ok = inet_pton(AF_INET, b_address, &v4.sin_addr)
        else:
            v6.sin6_family, v6.sin6_port, pl.addr_len = AF_INET6, htons(port), sizeof(sockaddr_in6)
            ok = inet_pton(AF_INET6, b_address, &v6.sin6_addr)
        if ok != 1:
            raise ValueError(f"not an IP address: {address!r}")
        return 0

    cdef int _allocate(self, int n) except -1:
        cdef Pool *pl = &self.pool
        cdef Conn *c
        cdef int i
        pl.epfd = epoll_create1(EPOLL_CLOEXEC)
        if pl.epfd < 0:
            raise OSError(errno, "epoll_create1")
        pl.conns = <Conn *>calloc(n, sizeof(Conn))
        pl.events = <epoll_event *>calloc(n, sizeof(epoll_event))
        pl.scratch = <char *>malloc(REQ_BYTES)
        if pl.conns == NULL or pl.events == NULL or pl.scratch == NULL:
            raise MemoryError()
        pl.n = n
        for i in range(n):
            c = &pl.conns[i]
            c.index, c.fd = i, -1
            c.req = <char *>malloc(REQ_BYTES)
            c.rbuf = <char *>malloc(RBUF_BYTES)
            c.kbuf = <char *>malloc(ERR_BODY_BYTES)
            c.path = <char *>malloc(PATH_BYTES)
            c.kcap = ERR_BODY_BYTES
            if c.req == NULL or c.rbuf == NULL or c.kbuf == NULL or c.path == NULL:
                raise MemoryError()
        return 0

    @property
    def connects(self):
        """TCP connections opened so far."""
        return self.pool.connects

    def request(self, str method, bytes path, bytes query=b"", bytes headers=b"", body=b""):
        """One request on connection 0, blocking (without the GIL) until the whole reply, a
        failure or the timeout. path and query are URI-encoded (query canonical), headers are
        extra signed "name:value\\n" lines in name order. Returns (code, status, head, body):
        code 0 when a reply arrived, else a failure code (see CODES)."""
        cdef Conn *c = &self.pool.conns[0]
        cdef bytes b_method = method.encode()
        cdef const unsigned char[::1] data = body
        cdef Req r = Req(b_method, path, len(path), query, len(query), headers, len(headers), NULL,
                         len(data), method in ("PUT", "POST"))
        if len(data):
            r.body = <const char *>&data[0]
        c.keep = 1
        c.is_head = method == "HEAD"
        with nogil:
            drop_if_closed(c)
            if build(&self.pool, c, &r) < 0:
                c.code = self.pool.other_code
            else:
                run_one(&self.pool, c)
        return c.code, c.status, c.kbuf[:c.hlen], c.kbuf[c.hlen:c.klen]

    def connect(self):
        """Open every connection now, each within the timeout: 0, or the first failure code."""
        cdef int i, code = 0
        for i in range(self.pool.n):
            if self.pool.conns[i].fd < 0:
                with nogil:
                    code = connect_now(&self.pool, &self.pool.conns[i])
                if code:
                    return code
        return 0

    def close(self):
        """Close every connection (the buffers go with the object)."""
        cdef int i
        for i in range(self.pool.n):
            close_conn(&self.pool.conns[i])

    def __dealloc__(self):
        cdef Pool *pl = &self.pool
        cdef int i
        if pl.conns != NULL:
            for i in range(pl.n):
                close_conn(&pl.conns[i])
                free(pl.conns[i].req)
                free(pl.conns[i].rbuf)
                free(pl.conns[i].kbuf)
                free(pl.conns[i].path)
                free(pl.conns[i].keys)
            free(pl.conns)
        free(pl.events)
        free(pl.scratch)
        if pl.epfd >= 0:
            close(pl.epfd)


# ---- the load ---------------------------------------------------------------------------------

cdef struct Mix:
    int n
    int op[N_S3_OPS]
    uint64_t upto[N_S3_OPS]      # cumulative weights
    uint64_t total


cdef struct Load:
    Recorder *rec                # NULL: prefill and cleanup are not recorded
    Mix mix
    int delete_only              # a connection with no object left retires
    uint64_t rng
    uint64_t size_min
    uint64_t size_span           # sizes are drawn from [size_min, size_min + size_span]
    const char *payload
    const char *base             # "/bucket/prefix", URI-encoded: object paths are base + serial
    size_t base_len
    const char *bucket_path
    size_t bucket_path_len
    const char *list_query
    size_t list_query_len
    uint64_t serial
    uint64_t budget              # operations still allowed to start
    uint64_t deadline_ns
    uint64_t op_timeout_ns
    int64_t *stop
    int submitting
    int inflight
    uint64_t submitted
    uint64_t completed


cdef int pick_op(Load *L) noexcept nogil:
    cdef uint64_t x = splitmix64(&L.rng) % L.mix.total
    cdef int i
    for i in range(L.mix.n):
        if x < L.mix.upto[i]:
            return L.mix.op[i]
    return L.mix.op[L.mix.n - 1]


cdef void object_path(Load *L, Conn *c) noexcept nogil:
    cdef Buf b = buf_of(c.path, PATH_BYTES)
    put(&b, L.base, L.base_len)
    put_uint(&b, c.key, SERIAL_DIGITS)
    c.path_len = b.len


cdef void keep_key(Conn *c, uint64_t key) noexcept nogil:
    """Remember an object this connection wrote (the array doubles when full: a few
    reallocations per run, none per operation)."""
    cdef size_t cap
    cdef uint64_t *grown
    if c.nkeys == c.cap_keys:
        cap = c.cap_keys * 2 if c.cap_keys else 1024
        grown = <uint64_t *>realloc(c.keys, cap * sizeof(uint64_t))
        if grown == NULL:
            return
        c.keys, c.cap_keys = grown, cap
    c.keys[c.nkeys] = key
    c.nkeys += 1


cdef int issue(Pool *pl, Load *L, Conn *c, uint64_t now) noexcept nogil:
    """Build and start the next operation on idle connection c."""
    cdef Req r
    cdef int op = pick_op(L)
    cdef size_t i
    if (op == OP_GET or op == OP_HEAD or op == OP_DELETE) and c.nkeys == 0:
        if L.delete_only:
            return RETIRE
        op = OP_PUT
    memset(&r, 0, sizeof(r))
    r.method = METHOD[op]
    if op == OP_LIST:
        r.path, r.path_len = L.bucket_path, L.bucket_path_len
        r.query, r.query_len = L.list_query, L.list_query_len
    else:
        if op == OP_PUT:
            L.serial += 1
            c.key = L.serial
            r.body, r.has_body = L.payload, 1
            r.body_len = L.size_min + (splitmix64(&L.rng) % (L.size_span + 1) if L.size_span else 0)
        else:
            i = splitmix64(&L.rng) % c.nkeys
            c.key = c.keys[i]
            if op == OP_DELETE:
                c.nkeys -= 1
                c.keys[i] = c.keys[c.nkeys]
        object_path(L, c)
        r.path, r.path_len = c.path, c.path_len
    c.op = op
    c.is_head = op == OP_HEAD
    L.budget -= 1
    L.submitted += 1
    L.inflight += 1
    if build(pl, c, &r) < 0:
        reset_reply(c)
        c.submit_ns = now
        return fail(c, pl.other_code)
    return start(pl, c, now)


cdef void record(Pool *pl, Load *L, Conn *c) noexcept nogil:
    """Account for c's finished operation."""
    cdef int code = c.code
    cdef uint64_t nbytes = c.body_len if c.op == OP_PUT else (c.body_bytes if c.op == OP_GET else 0)
    L.inflight -= 1
    L.completed += 1
    if code == 0 and c.status >= 300:
        code = error_code(pl, c)
    if code == 0 and c.op == OP_PUT:
        keep_key(c, c.key)
    if L.rec == NULL:
        return
    if code:
        record_error(L.rec, c.op, code, c.done_ns)
    else:
        record_ok(L.rec, c.op, c.done_ns - c.submit_ns, nbytes, c.done_ns)
        if c.op == OP_GET:
            record_ok(L.rec, OP_GET_TTFB, c.first_byte_ns - c.submit_ns, 0, c.done_ns)
    if c.reconnect_ns:
        record_ok(L.rec, OP_RECONNECT, c.reconnect_ns, 0, c.done_ns)


cdef bint may_submit(Load *L, uint64_t now) noexcept nogil:
    if L.submitting and (L.stop[0] != 0 or now >= L.deadline_ns or L.budget == 0):
        L.submitting = 0
    return L.submitting


cdef void drive(Pool *pl, Load *L, Conn *c) noexcept nogil:
    """Keep idle connection c busy; an operation that fails at once is recorded and replaced."""
    cdef uint64_t now = now_ns()
    cdef int r
    while may_submit(L, now):
        r = issue(pl, L, c, now)
        if r != DONE:
            return
        record(pl, L, c)
        now = now_ns()


cdef void scan(Pool *pl, Load *L, uint64_t now) noexcept nogil:
    """Count requests older than --op-timeout as stalled; fail those past the driver timeout."""
    cdef Conn *c
    cdef int i
    for i in range(pl.n):
        c = &pl.conns[i]
        if c.state == ST_IDLE:
            continue
        if L.rec != NULL and L.op_timeout_ns and not c.stalled and now - c.submit_ns > L.op_timeout_ns:
            c.stalled = 1
            record_stall(L.rec, c.op, now)
        if now - c.submit_ns > pl.timeout_ns:
            fail(c, pl.timeout_code)
            record(pl, L, c)
            drive(pl, L, c)


cdef int run_load(Pool *pl, Load *L) noexcept nogil:
    """Until the budget, the deadline or the stop flag, and every request finished: 0 or errno."""
    cdef uint64_t now, last_scan = now_ns()
    cdef int i, n
    cdef Conn *c
    for i in range(pl.n):
        drive(pl, L, &pl.conns[i])
    while L.inflight > 0:
        n = epoll_wait(pl.epfd, pl.events, pl.n, 100)
        if n < 0:
            if errno == EINTR:
                continue
            return errno
        for i in range(n):
            c = &pl.conns[pl.events[i].data.u64]
            if c.state == ST_IDLE:
                close_conn(c)        # the server closed (or wrote to) an idle connection
            elif on_event(pl, c, pl.events[i].events) == DONE:
                record(pl, L, c)
                drive(pl, L, c)
        now = now_ns()
        may_submit(L, now)
        if now - last_scan >= SCAN_NS:
            last_scan = now
            scan(pl, L, now)
    return 0


cdef class S3Load(S3Client):
    """The load of one worker: objects named base + serial, a mix of operations, sizes drawn from
    a range, payloads from one preallocated random buffer. Each connection keeps its own objects,
    so no operation races another for a key."""
    cdef Load load
    cdef char *payload
    cdef int64_t no_stop
    cdef bytes _base, _bucket_path, _list_query

    def __init__(self, *, bytes base, bytes bucket_path, bytes list_query, uint64_t size_min,
                 uint64_t size_max, uint64_t seed, **client):
        cdef Load *L = &self.load
        super().__init__(**client)
        if len(base) + SERIAL_DIGITS > PATH_BYTES:
            raise ValueError("object prefix too long")
        self.payload = alloc_aligned(size_max)
        if self.payload == NULL:
            raise MemoryError(size_max)
        fill(self.payload, size_max, PATTERN_RANDOM, 0, seed)
        self._base, self._bucket_path, self._list_query = base, bucket_path, list_query
        L.payload, L.size_min, L.size_span, L.rng = self.payload, size_min, size_max - size_min, seed
        L.base, L.base_len = self._base, len(base)
        L.bucket_path, L.bucket_path_len = self._bucket_path, len(bucket_path)
        L.list_query, L.list_query_len = self._list_query, len(list_query)

    cdef int _begin(self, list mix, uint64_t budget, uint64_t deadline_ns, int64_t *stop) except -1:
        """Set the mix ([(op index, weight)]) and the limits of the next pass."""
        cdef Load *L = &self.load
        cdef int i
        if not 0 < len(mix) <= N_S3_OPS:
            raise ValueError("mix needs 1 to 5 operations")
        L.mix.n, L.mix.total = len(mix), 0
        for i, (op, weight) in enumerate(mix):
            L.mix.total += weight
            L.mix.op[i], L.mix.upto[i] = op, L.mix.total
        if L.mix.total == 0:
            raise ValueError("mix weights add up to 0")
        L.delete_only = len(mix) == 1 and mix[0][0] == OP_DELETE
        L.budget, L.deadline_ns, L.stop = budget, deadline_ns, stop
        L.submitting, L.inflight, L.submitted, L.completed = 1, 0, 0, 0
        L.rec = NULL
        return 0

    def prefill(self, uint64_t objects):
        """objects PUTs per connection, not recorded (as for the Python drivers, a failed one is
        not retried: GETs then find fewer objects, or PUT when a connection has none)."""
        self._begin([(OP_PUT, 1)], objects * self.pool.n, <uint64_t>-1, &self.no_stop)
        with nogil:
            run_load(&self.pool, &self.load)

    def cleanup(self):
        """DELETE every object the connections still hold, not recorded."""
        self._begin([(OP_DELETE, 1)], <uint64_t>-1, <uint64_t>-1, &self.no_stop)
        with nogil:
            run_load(&self.pool, &self.load)

    def run(self, cnp.uint64_t[::1] hist not None, cnp.int64_t[::1] ts not None,
            cnp.int64_t[::1] errors not None, cnp.int64_t[::1] stop not None, dict spec):
        """The measured run; spec: the engine's fields plus "mix" ([(op index, weight)])."""
        cdef Recorder rec
        cdef int fatal
        init_recorder(&rec, hist, ts, errors, spec)
        self._begin(spec["mix"], spec["ops_limit"], spec["deadline_ns"], &stop[0])
        self.load.rec = &rec
        self.load.op_timeout_ns = spec["op_timeout_ns"]
        with nogil:
            fatal = run_load(&self.pool, &self.load)
        self.load.rec = NULL
        return {"submitted": self.load.submitted, "completed": self.load.completed,
                "inflight_left": self.load.inflight, "fatal_errno": fatal}

    def __dealloc__(self):
        free(self.payload)
