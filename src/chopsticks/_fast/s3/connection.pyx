# The per-connection state machine, on non-blocking sockets:
#
#     idle ─start─► connecting ─► [tls handshake] ─► sending ─► receiving ─► idle (a reply, or a
#                                                                           failure code)
#
# A request that fails (socket error, timeout, malformed reply) closes its connection; the next
# request on it reconnects, and that reconnect is timed. Nothing is retried here.

CODES = {"s3": CODE_S3, "http": CODE_HTTP, "errno": CODE_ERRNO, "errno_max": CODE_ERRNO_MAX, "tls": CODE_TLS,
         "tls_verify": CODE_TLS_VERIFY}


cdef int endpoint_open(Endpoint *ep, int n) except -1:
    """The epoll set and n closed connections with their buffers."""
    cdef Conn *c
    cdef int i
    ep.epfd = epoll_create1(EPOLL_CLOEXEC)
    if ep.epfd < 0:
        raise OSError(errno, "epoll_create1")
    ep.conns = <Conn *>calloc(n, sizeof(Conn))
    ep.events = <epoll_event *>calloc(n, sizeof(epoll_event))
    ep.scratch = <char *>malloc(REQ_BYTES)
    if ep.conns == NULL or ep.events == NULL or ep.scratch == NULL:
        raise MemoryError()
    ep.n = n
    for i in range(n):
        c = &ep.conns[i]
        c.index, c.fd = i, -1
        c.req = <char *>malloc(REQ_BYTES)
        c.rbuf = <char *>malloc(RECV_BYTES)
        if c.req == NULL or c.rbuf == NULL or parser_alloc(&c.reply) < 0:
            raise MemoryError()
    return 0


cdef void endpoint_close(Endpoint *ep) noexcept nogil:
    """Close every connection and free what endpoint_open allocated."""
    cdef int i
    if ep.conns != NULL:
        for i in range(ep.n):
            close_conn(&ep.conns[i], True)
            free(ep.conns[i].req)
            free(ep.conns[i].rbuf)
            parser_free(&ep.conns[i].reply)
        free(ep.conns)
        ep.conns = NULL
    free(ep.events)
    free(ep.scratch)
    ep.events = NULL
    ep.scratch = NULL
    if ep.epfd >= 0:
        close(ep.epfd)
        ep.epfd = -1
    tls_teardown(&ep.tls)


cdef void close_conn(Conn *c, bint orderly) noexcept nogil:
    """Close c's socket. orderly: after a whole reply, or idle: TLS then says close_notify, which
    also keeps its session resumable (libssl drops the session of a connection freed without it)."""
    if c.ssl != NULL:
        if orderly:
            libssl.SSL_shutdown(c.ssl)   # one non-blocking try; the peer's answer is not awaited
            ERR_clear_error()
        libssl.SSL_free(c.ssl)
        c.ssl = NULL
    if c.fd >= 0:
        close(c.fd)                  # also leaves the epoll set
        c.fd = -1
    c.events = 0


cdef int set_events(Endpoint *ep, Conn *c, unsigned int mask) noexcept nogil:
    cdef epoll_event ev
    cdef int r
    if c.events == mask:
        return 0
    ev.events = mask
    ev.data.u64 = <unsigned long>c.index
    r = epoll_ctl(ep.epfd, EPOLL_CTL_MOD if c.events else EPOLL_CTL_ADD, c.fd, &ev)
    if r == 0:
        c.events = mask
    return r


cdef int open_socket(Endpoint *ep, Conn *c) noexcept nogil:
    """0: connected; 1: connecting; < 0: -errno."""
    cdef int one = 1, err
    cdef int fd = socket(ep.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)
    if fd < 0:
        return -errno
    if ep.tcp_nodelay:
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one))
    if ep.tcp_quickack:
        setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one))
    c.fd = fd
    c.events = 0
    ep.connects += 1
    if connect(fd, <sockaddr *>&ep.addr, ep.addr_len) == 0:
        return 0
    if errno == EINPROGRESS:
        return 1
    err = errno
    close_conn(c, False)
    return -err


cdef int connect_error(Conn *c) noexcept nogil:
    cdef int err = 0
    cdef socklen_t n = sizeof(err)
    if getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &n) < 0:
        return errno
    return err


cdef Step finish(Endpoint *ep, Conn *c) noexcept nogil:
    """A whole reply arrived."""
    c.done_ns = now_ns()
    c.code = ep.other_code if c.reply.oom else 0
    if c.ssl != NULL and not c.session_kept:
        tls_keep_session(&ep.tls, c)
    if not c.reply.keep_alive or c.sent < c.req_len + c.body_len:
        close_conn(c, True)
    c.state = CONN_IDLE
    return DONE


cdef Step fail(Conn *c, int code) noexcept nogil:
    c.done_ns = now_ns()
    c.code = code
    c.connect_failed = c.state == CONN_CONNECTING or c.state == CONN_TLS_HANDSHAKE
    close_conn(c, False)
    c.state = CONN_IDLE
    return DONE


cdef Step on_readable(Endpoint *ep, Conn *c) noexcept nogil:
    cdef ssize_t r
    cdef int one = 1, done, code
    while True:
        if c.ssl != NULL:
            r = tls_read(&ep.tls, c, c.rbuf, RECV_BYTES, &code)
            if r < 0:
                if code:
                    return fail(c, code)
                return PENDING if set_events(ep, c, c.tls_wants) == 0 else fail(c, CODE_ERRNO + errno)
        else:
            r = recv(c.fd, c.rbuf, RECV_BYTES, 0)
            if r < 0:
                if errno == EINTR:
                    continue
                if errno == EAGAIN:
                    return PENDING
                return fail(c, CODE_ERRNO + errno)
        if r == 0:
            if ends_at_close(&c.reply):
                c.reply.keep_alive = 0
                return finish(ep, c)
            return fail(c, CODE_ERRNO)
        if c.first_byte_ns == 0:
            c.first_byte_ns = now_ns()
        done = reply_feed(&c.reply, c.rbuf, <size_t>r)
        if done < 0:
            return fail(c, ep.other_code)
        if done:
            return finish(ep, c)
        if ep.tcp_quickack:
            # ACK what arrived now, so that a server holding the rest of the reply back until
            # then (Nagle) sends it at once; Linux leaves quick-ack mode on its own, so this is
            # redone after every read that leaves the reply incomplete.
            setsockopt(c.fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one))
        if r < RECV_BYTES and c.ssl == NULL:
            return PENDING           # (TLS reads on until the SSL object has to wait)


cdef inline const char *body_at(Conn *c, size_t offset, size_t *n) noexcept nogil:
    """Where the body's bytes from offset are, and how many of them follow there: a body longer
    than its buffer (a large object) is the buffer over and over."""
    cdef size_t at = (c.body_start + offset) % c.body_cycle if c.body_cycle else offset
    n[0] = c.body_len - offset
    if c.body_cycle and n[0] > c.body_cycle - at:
        n[0] = c.body_cycle - at
    return c.body + at


cdef Step send_some(Endpoint *ep, Conn *c) noexcept nogil:
    """Send what is left of the request; then wait for the reply."""
    cdef iovec iov[2]
    cdef msghdr msg
    cdef ssize_t r
    cdef int code
    cdef size_t total = c.req_len + c.body_len, n
    cdef const char *part
    while c.sent < total:
        if c.ssl != NULL:
            if c.sent == 0 and 0 < c.body_len <= REQ_BYTES - c.req_len:
                # one TLS record for head and body: two would be two segments, the second held
                # back by Nagle until the server's delayed ACK of the first (~40 ms)
                part = body_at(c, 0, &n)
                if n == c.body_len:
                    memcpy(c.req + c.req_len, part, n)
                    c.coalesced = 1
            if c.coalesced:
                r = tls_write(&ep.tls, c, c.req + c.sent, total - c.sent, &code)
            elif c.sent < c.req_len:
                r = tls_write(&ep.tls, c, c.req + c.sent, c.req_len - c.sent, &code)
            else:
                part = body_at(c, c.sent - c.req_len, &n)
                r = tls_write(&ep.tls, c, part, n, &code)
            if r < 0:
                if code:
                    return fail(c, code)
                return PENDING if set_events(ep, c, c.tls_wants) == 0 else fail(c, CODE_ERRNO + errno)
            c.sent += r
            continue
        memset(&msg, 0, sizeof(msg))
        msg.msg_iov = iov
        if c.sent < c.req_len:
            iov[0].iov_base = c.req + c.sent
            iov[0].iov_len = c.req_len - c.sent
            iov[1].iov_base = <void *>body_at(c, 0, &n)
            iov[1].iov_len = n
            msg.msg_iovlen = 2 if c.body_len else 1
        else:
            iov[0].iov_base = <void *>body_at(c, c.sent - c.req_len, &n)
            iov[0].iov_len = n
            msg.msg_iovlen = 1
        r = sendmsg(c.fd, &msg, MSG_NOSIGNAL)
        if r < 0:
            if errno == EINTR:
                continue
            if errno == EAGAIN:
                return PENDING if set_events(ep, c, EPOLLIN | EPOLLOUT) == 0 else fail(c, CODE_ERRNO + errno)
            return fail(c, CODE_ERRNO + errno)
        c.sent += r
    c.state = CONN_RECEIVING
    return PENDING if set_events(ep, c, EPOLLIN) == 0 else fail(c, CODE_ERRNO + errno)


cdef Step connected(Endpoint *ep, Conn *c) noexcept nogil:
    """The TCP connection is up: start TLS on it, or go on with the request."""
    if ep.tls.ctx == NULL:
        return ready(ep, c)
    if tls_begin(&ep.tls, c) < 0:
        return fail(c, ep.other_code)
    c.state = CONN_TLS_HANDSHAKE
    return tls_handshake(ep, c)


cdef Step ready(Endpoint *ep, Conn *c) noexcept nogil:
    """Connected (and TLS set up): send the request, or end a connect-only one."""
    if c.connect_only:
        c.done_ns = now_ns()
        c.state = CONN_IDLE
        return DONE if set_events(ep, c, EPOLLIN) == 0 else fail(c, CODE_ERRNO + errno)
    c.state = CONN_SENDING
    return send_some(ep, c)


cdef Step on_writable(Endpoint *ep, Conn *c) noexcept nogil:
    cdef int err
    if c.state == CONN_CONNECTING:
        err = connect_error(c)
        if err:
            return fail(c, CODE_ERRNO + err)
        c.reconnect_ns = now_ns() - c.submit_ns
        return connected(ep, c)
    return send_some(ep, c)


cdef Step on_event(Endpoint *ep, Conn *c, unsigned int events) noexcept nogil:
    if c.state == CONN_RECEIVING:
        return on_readable(ep, c)
    if c.state == CONN_TLS_HANDSHAKE:
        return tls_handshake(ep, c)
    if c.state == CONN_SENDING and events & EPOLLIN and c.ssl == NULL:
        c.state = CONN_RECEIVING     # the server answered before taking the whole body
        return on_readable(ep, c)
    return on_writable(ep, c)


cdef bint idle_alive(Conn *c) noexcept nogil:
    """Whether an idle connection is still usable: not when the server closed it (or wrote to it)."""
    cdef char b
    if c.fd < 0:
        return False
    if c.ssl != NULL:
        return tls_idle_alive(c)
    return recv(c.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) < 0 and errno == EAGAIN


cdef void conn_reset(Conn *c) noexcept nogil:
    """Forget the last request's progress, reply and timings."""
    c.sent = 0
    parser_reset(&c.reply)
    c.code = 0
    c.first_byte_ns = 0
    c.reconnect_ns = 0
    c.tls_ns = 0
    c.connect_failed = 0
    c.coalesced = 0


cdef Step start(Endpoint *ep, Conn *c, uint64_t now) noexcept nogil:
    """Send the request built in c.req (connecting first if needed)."""
    cdef int r
    c.submit_ns = now
    conn_reset(c)
    if c.fd >= 0:
        return ready(ep, c)
    c.state = CONN_CONNECTING
    r = open_socket(ep, c)
    if r < 0:
        return fail(c, CODE_ERRNO - r)
    if r > 0:
        return PENDING if set_events(ep, c, EPOLLOUT) == 0 else fail(c, CODE_ERRNO + errno)
    c.reconnect_ns = now_ns() - now
    return connected(ep, c)


cdef int prepare(Endpoint *ep, Conn *c, Req *r) noexcept nogil:
    """Sign r and lay its head out in c.req, its body to follow; -1 if the head is too long."""
    cdef Buf canon = buf_of(ep.scratch, REQ_BYTES)
    cdef Buf head = buf_of(c.req, REQ_BYTES)
    tick(&ep.signer)
    if format_request(&ep.signer, ep.host, ep.payload_sha256, r, &canon, &head) < 0:
        return -1
    c.req_len = head.len
    c.body = r.body
    c.body_len = r.body_len
    c.body_cycle = 0
    c.body_start = 0
    return 0


cdef int error_code(Endpoint *ep, Conn *c) noexcept nogil:
    """The failure code of an error reply: its S3 <Code> if known, else its HTTP status."""
    cdef const char *body = c.reply.kbuf + c.reply.hlen
    cdef size_t n = c.reply.klen - c.reply.hlen
    cdef ssize_t open_tag = find_bytes(body, n, b"<Code>", 6), close_tag
    cdef int i
    if open_tag >= 0:
        body += open_tag + 6
        n -= open_tag + 6
        close_tag = find_bytes(body, n, b"<", 1)
        for i in range(ep.n_s3_codes):
            if close_tag == <ssize_t>strlen(ep.s3_codes[i]) and memcmp(body, ep.s3_codes[i], close_tag) == 0:
                return CODE_S3 + i
    return CODE_HTTP + (c.reply.status if 0 <= c.reply.status < 600 else 0)
