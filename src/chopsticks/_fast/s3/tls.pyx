# TLS on the nogil path: each connection's SSL object runs its handshake, reads and writes on
# the non-blocking socket; SSL_ERROR_WANT_READ/WANT_WRITE become the epoll events it waits for.
# New connections resume the endpoint's last session (session tickets), so a reconnect costs an
# abbreviated handshake.

cdef int tls_setup(TlsEndpoint *t, str host, bint host_is_ip, str ca_bundle, bint verify) except -1:
    """A client context verifying the server (against ca_bundle, else the system's CAs) unless
    verify is false."""
    cdef bytes b_host = host.encode(), b_ca = ca_bundle.encode() if ca_bundle else b""
    if len(b_host) >= <Py_ssize_t>(sizeof(t.ip) if host_is_ip else sizeof(t.name)):
        raise ValueError("host name too long")
    t.ctx = libssl.SSL_CTX_new(libssl.TLS_client_method())
    if t.ctx == NULL:
        raise MemoryError("SSL_CTX_new")
    libssl.SSL_CTX_set_mode(t.ctx, libssl.SSL_MODE_ENABLE_PARTIAL_WRITE | libssl.SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER)
    t.verify = verify
    if not verify:
        libssl.SSL_CTX_set_verify(t.ctx, libssl.SSL_VERIFY_NONE, NULL)
    else:
        libssl.SSL_CTX_set_verify(t.ctx, libssl.SSL_VERIFY_PEER, NULL)
        if ca_bundle:
            if libssl.SSL_CTX_load_verify_locations(t.ctx, b_ca, NULL) != 1:
                ERR_clear_error()
                raise ValueError(f"no CA certificate could be read from {ca_bundle}")
        elif libssl.SSL_CTX_set_default_verify_paths(t.ctx) != 1:
            ERR_clear_error()
            raise ValueError("the system's CA certificates could not be loaded")
    if host_is_ip:
        memcpy(t.ip, <const char *>b_host, len(b_host))
    else:
        memcpy(t.name, <const char *>b_host, len(b_host))
    return 0


cdef void tls_teardown(TlsEndpoint *t) noexcept nogil:
    if t.session != NULL:
        libssl.SSL_SESSION_free(t.session)
        t.session = NULL
    if t.ctx != NULL:
        libssl.SSL_CTX_free(t.ctx)
        t.ctx = NULL


cdef int tls_begin(TlsEndpoint *t, Conn *c) noexcept nogil:
    """A TLS client on c's connected socket, offering the kept session: 0, or -1 out of memory."""
    cdef libssl.SSL *ssl = libssl.SSL_new(t.ctx)
    if ssl == NULL:
        return -1
    c.ssl = ssl
    c.session_kept = 0
    c.tls_start_ns = now_ns()
    libssl.SSL_set_fd(ssl, c.fd)
    libssl.SSL_set_connect_state(ssl)
    if t.ip[0]:
        X509_VERIFY_PARAM_set1_ip_asc(libssl.SSL_get0_param(ssl), t.ip)
    else:
        libssl.SSL_set_tlsext_host_name(ssl, t.name)
        libssl.SSL_set1_host(ssl, t.name)
    if t.session != NULL:
        libssl.SSL_set_session(ssl, t.session)
    return 0


cdef int tls_failure(TlsEndpoint *t, Conn *c, int ret) noexcept nogil:
    """What an SSL call that returned ret means: 0 to wait for c.tls_wants, CODE_ERRNO (+ errno)
    when the peer closed or the socket failed, CODE_TLS_VERIFY or CODE_TLS."""
    cdef int err = libssl.SSL_get_error(c.ssl, ret), sys_errno = errno
    cdef long verified
    if err == libssl.SSL_ERROR_WANT_READ:
        c.tls_wants = EPOLLIN
        return 0
    if err == libssl.SSL_ERROR_WANT_WRITE:
        c.tls_wants = EPOLLOUT
        return 0
    ERR_clear_error()
    if c.state == CONN_TLS_HANDSHAKE and t.verify:    # (unchecked, a chain still has a result)
        verified = libssl.SSL_get_verify_result(c.ssl)
        if verified != X509_V_OK:
            t.verify_result = verified
            return CODE_TLS_VERIFY
    if err == libssl.SSL_ERROR_SYSCALL and ret < 0 and sys_errno:
        return CODE_ERRNO + sys_errno
    if err == libssl.SSL_ERROR_ZERO_RETURN or ret == 0:
        return CODE_ERRNO               # the peer closed the connection (with or without close_notify)
    return CODE_TLS


cdef Step tls_handshake(Endpoint *ep, Conn *c) noexcept nogil:
    """One step of the handshake; once done, the connection is ready for its request."""
    cdef int r, code
    ERR_clear_error()
    r = libssl.SSL_do_handshake(c.ssl)
    if r == 1:
        c.tls_ns = now_ns() - c.tls_start_ns
        ep.tls.handshakes += 1
        ep.tls.resumed += libssl.SSL_session_reused(c.ssl) == 1
        return ready(ep, c)
    code = tls_failure(&ep.tls, c, r)
    if code:
        return fail(c, code)
    return PENDING if set_events(ep, c, c.tls_wants) == 0 else fail(c, CODE_ERRNO + errno)


cdef ssize_t tls_read(TlsEndpoint *t, Conn *c, char *buf, size_t n, int *code) noexcept nogil:
    """As recv: bytes read, 0 when the peer closed, or -1 with *code 0 (wait for c.tls_wants)
    or a failure code."""
    cdef int r
    ERR_clear_error()
    r = libssl.SSL_read(c.ssl, buf, <int>(n if n < 0x40000000 else 0x40000000))
    if r > 0:
        return r
    code[0] = tls_failure(t, c, r)
    return 0 if code[0] == CODE_ERRNO else -1


cdef ssize_t tls_write(TlsEndpoint *t, Conn *c, const char *buf, size_t n, int *code) noexcept nogil:
    """As send: bytes written, or -1 with *code 0 (wait for c.tls_wants) or a failure code."""
    cdef int r
    ERR_clear_error()
    r = libssl.SSL_write(c.ssl, buf, <int>(n if n < 0x40000000 else 0x40000000))
    if r > 0:
        return r
    code[0] = tls_failure(t, c, r)
    return -1


cdef void tls_keep_session(TlsEndpoint *t, Conn *c) noexcept nogil:
    """After a connection's first reply (by then TLS 1.3 session tickets have arrived), keep the
    session of a full handshake for the connections to come."""
    cdef libssl.SSL_SESSION *s
    c.session_kept = 1
    if t.session != NULL and libssl.SSL_session_reused(c.ssl) == 1:
        return
    s = libssl.SSL_get1_session(c.ssl)
    if s == NULL:
        return
    if t.session != NULL:
        libssl.SSL_SESSION_free(t.session)
    t.session = s


cdef bint tls_idle_alive(Conn *c) noexcept nogil:
    """Whether an idle TLS connection that became readable is still usable: it is when all it
    read was TLS housekeeping (a session ticket), not when the peer closed or sent data."""
    cdef int r
    ERR_clear_error()
    r = libssl.SSL_read(c.ssl, c.rbuf, RECV_BYTES)
    if r > 0:
        return False
    r = libssl.SSL_get_error(c.ssl, r)
    ERR_clear_error()
    return r == libssl.SSL_ERROR_WANT_READ
