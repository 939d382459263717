# The blocking client: each call waits, without the GIL, for its reply, a failure or the timeout.

cdef int connect_now(Endpoint *ep, Conn *c) noexcept nogil:
    """Open c's connection (TLS handshake included), waiting up to the timeout: 0 or a failure code."""
    c.connect_only = 1
    run_one(ep, c)
    c.connect_only = 0
    return c.code


cdef void drop_if_closed(Conn *c) noexcept nogil:
    """Close a connection the server closed (or wrote to) while it was idle, so the next request
    opens a new one instead of failing on it."""
    if c.fd >= 0 and not idle_alive(c):
        close_conn(c, True)


cdef void run_one(Endpoint *ep, Conn *c) noexcept nogil:
    """One request, blocking until its reply, a failure or the timeout."""
    cdef epoll_event ev
    cdef Step r = start(ep, c, now_ns())
    cdef int n
    cdef uint64_t waited
    while r == PENDING:
        waited = now_ns() - c.submit_ns
        if waited >= ep.timeout_ns:
            fail(c, ep.timeout_code)
            return
        n = epoll_wait(ep.epfd, &ev, 1, <int>((ep.timeout_ns - waited) // 1000000) + 1)
        if n > 0:
            r = on_event(ep, c, ev.events)
        elif n < 0 and errno != EINTR:
            fail(c, CODE_ERRNO + errno)
            return


cdef class S3Client:
    """`connections` keep-alive HTTP/1.1 connections to one S3 endpoint, signing with SigV4."""

    def __init__(self, *, int family, str address, int port, str host, str access_key, str secret_key,
                 str region, int connections=1, double timeout_s=30.0, bint tcp_nodelay=False,
                 bint tcp_quickack=False, bint payload_sha256=False, tuple s3_codes=(),
                 int timeout_code, int other_code, str tls_host="", bint tls_host_is_ip=False,
                 str ca_bundle="", bint verify=True):
        """tls_host: speak TLS, checking the server's certificate for this name (or IP address)
        against ca_bundle, else the system's CAs, unless verify is false."""
        cdef Endpoint *ep = &self.ep
        cdef bytes b_host = host.encode()
        cdef int i
        if len(b_host) >= <Py_ssize_t>sizeof(ep.host) or len(s3_codes) > MAX_S3_CODES:
            raise ValueError("host name or S3 code table too long")
        init_signer(&ep.signer, access_key, secret_key, region)
        memcpy(ep.host, <const char *>b_host, len(b_host))
        self._set_address(family, address, port)
        ep.timeout_ns = <uint64_t>(timeout_s * 1e9)
        ep.tcp_nodelay, ep.tcp_quickack, ep.payload_sha256 = tcp_nodelay, tcp_quickack, payload_sha256
        ep.timeout_code, ep.other_code = timeout_code, other_code
        for i, code in enumerate(s3_codes):
            b_code = code.encode()
            if len(b_code) >= S3_CODE_BYTES:
                raise ValueError(f"S3 code {code!r} too long")
            memcpy(ep.s3_codes[i], <const char *>b_code, len(b_code))
        ep.n_s3_codes = len(s3_codes)
        if tls_host:
            tls_setup(&ep.tls, tls_host, tls_host_is_ip, ca_bundle, verify)
        endpoint_open(ep, connections)

    def __cinit__(self, *args, **kwargs):
        self.ep.epfd = -1

    cdef int _set_address(self, int family, str address, int port) except -1:
        cdef Endpoint *ep = &self.ep
        cdef sockaddr_in *v4 = <sockaddr_in *>&ep.addr
        cdef sockaddr_in6 *v6 = <sockaddr_in6 *>&ep.addr
        cdef bytes b_address = address.encode()
        cdef int ok
        if family == AF_INET:
            v4.sin_family, v4.sin_port, ep.addr_len = AF_INET, htons(port), sizeof(sockaddr_in)
            ok = inet_pton(AF_INET, b_address, &v4.sin_addr)
        else:
            v6.sin6_family, v6.sin6_port, ep.addr_len = AF_INET6, htons(port), sizeof(sockaddr_in6)
            ok = inet_pton(AF_INET6, b_address, &v6.sin6_addr)
        if ok != 1:
            raise ValueError(f"not an IP address: {address!r}")
        return 0

    @property
    def connects(self):
        """TCP connections opened so far."""
        return self.ep.connects

    @property
    def tls_handshakes(self):
        """(TLS handshakes completed, of which resumed a kept session)."""
        return self.ep.tls.handshakes, self.ep.tls.resumed

    @property
    def tls_verify_error(self):
        """Why the last certificate verification failed (OpenSSL's words)."""
        return X509_verify_cert_error_string(self.ep.tls.verify_result).decode()

    def request(self, str method, bytes path, bytes query=b"", bytes headers=b"", body=b""):
        """One request on connection 0, blocking (without the GIL) until the whole reply, a
        failure or the timeout. path and query are URI-encoded (query canonical), headers are
        extra signed "name:value\\n" lines in name order. Returns (code, status, head, body):
        code 0 when a reply arrived, else a failure code (see CODES)."""
        cdef Conn *c = &self.ep.conns[0]
        cdef bytes b_method = method.encode()
        cdef const unsigned char[::1] data = body
        cdef Req r = Req(b_method, path, len(path), query, len(query), headers, len(headers), NULL,
                         len(data), method in ("PUT", "POST"))
        if len(data):
            r.body = <const char *>&data[0]
        c.reply.keep = 1
        c.reply.no_body = method == "HEAD"
        with nogil:
            drop_if_closed(c)
            if prepare(&self.ep, c, &r) < 0:
                conn_reset(c)
                c.code = self.ep.other_code
            else:
                run_one(&self.ep, c)
        return c.code, c.reply.status, c.reply.kbuf[:c.reply.hlen], c.reply.kbuf[c.reply.hlen:c.reply.klen]

    def connect(self):
        """Open every connection now, each within the timeout: 0, or the first failure code."""
        cdef int i, code = 0
        for i in range(self.ep.n):
            if self.ep.conns[i].fd < 0:
                with nogil:
                    code = connect_now(&self.ep, &self.ep.conns[i])
                if code:
                    return code
        return 0

    def close(self):
        """Close every connection (the buffers go with the object)."""
        cdef int i
        for i in range(self.ep.n):
            close_conn(&self.ep.conns[i], True)

    def __dealloc__(self):
        endpoint_close(&self.ep)
