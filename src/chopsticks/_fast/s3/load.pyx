# The load of one worker, over a client's connections: each keeps one operation in flight, and
# every completion is recorded into the worker's shared-memory rows.

OP_NAMES = ("put", "get", "delete", "head", "list", "get.ttfb", "reconnect", "tls_handshake", "put.part")
# How an object's key and (--verify) its stamps' offset name it, for the Python layer's reports.
OBJECT_NAMING = {"serial_digits": SERIAL_DIGITS}

cdef const char *METHOD[N_S3_OPS]
METHOD[OP_PUT] = b"PUT"
METHOD[OP_GET] = b"GET"
METHOD[OP_DELETE] = b"DELETE"
METHOD[OP_HEAD] = b"HEAD"
METHOD[OP_LIST] = b"GET"


cdef void object_path(Load *L, Slot *s) noexcept nogil:
    cdef Buf b = buf_of(s.path, PATH_BYTES)
    put(&b, L.base, L.base_len)
    put_uint(&b, s.key, SERIAL_DIGITS)
    s.path_len = b.len


cdef void existing_path(Load *L, Slot *s) noexcept nogil:
    """The path of a random key of the existing data set."""
    cdef uint64_t i = splitmix64(&L.rng) % L.n_existing
    cdef uint64_t start = L.existing_ends[i - 1] if i else 0
    cdef Buf b = buf_of(s.path, PATH_BYTES)
    put(&b, L.bucket_path, L.bucket_path_len)
    put(&b, b"/", 1)
    put(&b, L.existing + start, L.existing_ends[i] - start)
    s.path_len = b.len


cdef void range_header(Load *L, Slot *s, Req *r) noexcept nogil:
    """A signed Range header for range_size bytes at a random offset of an object of at least
    size_min bytes (of an existing object: from its start)."""
    cdef uint64_t first = 0
    cdef Buf b = buf_of(s.range_header, RANGE_HEADER_BYTES)
    if not L.n_existing and L.size_min > L.range_size:
        first = splitmix64(&L.rng) % (L.size_min - L.range_size + 1)
    put_str(&b, b"range:bytes=")
    put_uint(&b, first, 1)
    put(&b, b"-", 1)
    put_uint(&b, first + L.range_size - 1, 1)
    put(&b, b"\n", 1)
    r.headers, r.headers_len = s.range_header, b.len
    s.range_first = first


cdef void keep_key(Load *L, Slot *s, uint64_t key, uint64_t size, uint64_t seq) noexcept nogil:
    """Remember an object this connection wrote, and with --verify its size and write's seq (the
    arrays double when full: a few reallocations per run, none per operation)."""
    cdef size_t cap
    cdef uint64_t *grown
    if s.nkeys == s.cap_keys:
        cap = s.cap_keys * 2 if s.cap_keys else 1024
        grown = <uint64_t *>realloc(s.keys, cap * sizeof(uint64_t))
        if grown == NULL:
            return
        s.keys = grown
        if L.verify:
            grown = <uint64_t *>realloc(s.sizes, cap * sizeof(uint64_t))
            if grown == NULL:
                return
            s.sizes = grown
            grown = <uint64_t *>realloc(s.seqs, cap * sizeof(uint64_t))
            if grown == NULL:
                return
            s.seqs = grown
        s.cap_keys = cap
    s.keys[s.nkeys] = key
    if L.verify:
        s.sizes[s.nkeys], s.seqs[s.nkeys] = size, seq
    s.nkeys += 1


cdef inline void move_key(Load *L, Slot *s, size_t src, size_t dst) noexcept nogil:
    s.keys[dst] = s.keys[src]
    if L.verify:
        s.sizes[dst], s.seqs[dst] = s.sizes[src], s.seqs[src]


cdef void drop_key(Load *L, Slot *s, size_t i) noexcept nogil:
    """The object at keys[i] is no longer the connection's to use (deleted, or being rewritten):
    the last one takes its place; an earlier object still to rewrite takes the place of the last
    of those instead, so that they stay first."""
    if i < s.n_rewrite:
        s.n_rewrite -= 1
        move_key(L, s, s.n_rewrite, i)
        i = s.n_rewrite
    s.nkeys -= 1
    move_key(L, s, s.nkeys, i)


cdef Step issue(Load *L, Conn *c, uint64_t now) noexcept nogil:
    """Build and start the next operation on idle connection c (one the skeleton lets start now)."""
    cdef Slot *s = &L.slots[c.index]
    cdef Req r
    cdef int op = pick_op(&L.mix, &L.rng)
    if L.n_existing and op != OP_GET and op != OP_HEAD:
        return RETIRE                    # an existing data set is only ever read
    if (op == OP_GET or op == OP_HEAD or op == OP_DELETE) and s.nkeys == 0 and not L.n_existing:
        if L.delete_only:
            return RETIRE
        op = OP_PUT
    s.intended_ns = begin_op(L.ctl, now)
    memset(&r, 0, sizeof(r))
    r.method = METHOD[op]
    if op == OP_LIST:
        r.path, r.path_len = L.bucket_path, L.bucket_path_len
        r.query, r.query_len = L.list_query, L.list_query_len
    elif L.n_existing:
        existing_path(L, s)              # GET or HEAD (the Python layer allows no other op)
        r.path, r.path_len = s.path, s.path_len
    else:
        if op == OP_PUT:
            L.serial += 1
            s.key, s.seq = L.serial, L.seq_base | L.serial
            if s.n_rewrite:              # --verify-against: an earlier object first, out of reach until
                                         # written (a failed write leaves it unknown: never read again)
                s.key = s.keys[s.n_rewrite - 1]
                drop_key(L, s, s.n_rewrite - 1)
            r.body, r.has_body = L.payload, 1
            r.body_len = L.size_min + (splitmix64(&L.rng) % (L.size_span + 1) if L.size_span else 0)
        else:
            s.key_index = splitmix64(&L.rng) % s.nkeys
            s.key = s.keys[s.key_index]
        object_path(L, s)
        r.path, r.path_len = s.path, s.path_len
    if op == OP_GET and L.range_size:
        range_header(L, s, &r)
    s.op = op
    s.stalled = 0
    s.step = NOT_MULTIPART
    c.reply.no_body = op == OP_HEAD
    c.reply.keep = L.verify and op == OP_GET      # --verify reads the body back
    if op == OP_PUT and L.multipart_threshold and r.body_len > L.multipart_threshold:
        begin_upload(L, c, s, &r, now)
    elif op == OP_PUT and L.verify:
        r.body = stamped_body(L, s, s.key, 0, r.body_len, s.seq)
    if prepare(L.ep, c, &r) < 0:
        conn_reset(c)
        c.submit_ns = now
        return fail(c, L.ep.other_code)
    if not L.verify:
        c.body_cycle = L.payload_len
    return start(L.ep, c, now)


# ---- --verify: stamped PUT bodies, GET bodies checked against them ----------------------------

cpdef uint64_t verify_body_bytes(uint64_t size_max, uint64_t multipart_threshold, uint64_t part_size):
    """The body buffer --verify gives each connection: its largest PUT body (an object, or with
    multipart PUTs the largest single PUT or part)."""
    cdef uint64_t largest = size_max
    if multipart_threshold and size_max > multipart_threshold:
        largest = multipart_threshold if multipart_threshold > part_size else part_size
    return largest if largest < size_max else size_max


cdef const char *stamped_body(Load *L, Slot *s, uint64_t key, uint64_t offset, uint64_t n, uint64_t seq) noexcept nogil:
    """Connection s's body buffer, stamped as bytes offset .. offset+n of object key written by
    seq: 32 bytes per 4 KiB block change (payload.pxd), the rest stays the connection's random
    payload."""
    stamp(s.body, n, (key << OBJECT_SHIFT) + offset, seq)
    return s.body


cdef bint check_get(Load *L, Slot *s, Conn *c) noexcept nogil:
    """Check a successful GET's length (the object's, or the range's) and the 4 KiB blocks its
    body holds whole (a ranged GET: those its range covers entirely) against their stamps and this
    worker's PUT of the object; False if any failed. An object of an existing data set was not
    written by this run: its blocks count as unwritten."""
    cdef const char *body = c.reply.kbuf + c.reply.hlen
    cdef uint64_t got = c.reply.klen - c.reply.hlen, n = got
    cdef uint64_t skip = 0, size, at
    cdef uint64_t seq
    cdef bint ok = True
    if L.n_existing:
        L.ver.unwritten += (got + STAMP_EVERY - 1) // STAMP_EVERY
        return True
    seq = s.seqs[s.key_index]
    size = L.range_size if L.range_size else s.sizes[s.key_index]
    at = (s.key << OBJECT_SHIFT) + (s.range_first if L.range_size else 0)
    if got != size:
        # shorter: its tail is lost (a body cut at a block's start leaves every block read valid);
        # longer: bytes no write of it had
        _note(&L.ver, at + (got if got < size else size), VERIFY_LOST if got < size else BLOCK_CORRUPT, seq, 0)
        ok = False
    if L.range_size:
        skip = (STAMP_EVERY - s.range_first % STAMP_EVERY) % STAMP_EVERY    # to the first whole block
        n = (n - skip) // STAMP_EVERY * STAMP_EVERY if n > skip else 0
    elif n % STAMP_EVERY < STAMP_BYTES:
        n -= n % STAMP_EVERY         # a last block too short to carry a stamp
    if n:
        ok = verify_read(&L.ver, body + skip, n, at + skip, seq) and ok
    return ok


# ---- multipart PUTs: initiate, parts on whichever connections are idle, complete (or abort) --

cdef void begin_upload(Load *L, Conn *c, Slot *s, Req *r, uint64_t now) noexcept nogil:
    """Turn the PUT in r into the initiate of a multipart upload of r.body_len bytes."""
    cdef Upload *u
    cdef int i
    for i in range(L.ep.n):
        if not L.uploads[i].active:
            break
    else:
        return                           # (cannot happen: a busy connection per active upload)
    u = &L.uploads[i]
    u.active, u.owner, u.key, u.size, u.start_ns, u.submit_ns = 1, c.index, s.key, r.body_len, s.intended_ns, now
    u.seq = s.seq
    u.parts = <int>((r.body_len + L.part_size - 1) // L.part_size)
    u.next_part, u.parts_done, u.inflight, u.failed, u.code, u.finish_due = 1, 0, 1, 0, 0, 0
    u.upload_id_len = 0
    s.step, s.upload = UPLOAD_INITIATE, i
    r.method, r.query, r.query_len = b"POST", b"uploads=", 8
    r.body, r.body_len = NULL, 0
    c.reply.keep = 1


cdef int due_upload(Load *L) noexcept nogil:
    """An upload with a request to send (its complete or abort, else its next part once its
    initiate has answered), or -1."""
    cdef Upload *u
    cdef int i
    for i in range(L.ep.n):
        u = &L.uploads[i]
        if u.active and (u.finish_due or (not u.failed and u.upload_id_len and u.next_part <= u.parts)):
            return i
    return -1


cdef void upload_query(Slot *s, Upload *u, int part) noexcept nogil:
    cdef Buf b = buf_of(s.query, QUERY_BYTES)
    if part:
        put_str(&b, b"partNumber=")
        put_uint(&b, <uint64_t>part, 1)
        put(&b, b"&", 1)
    put_str(&b, b"uploadId=")
    put(&b, u.upload_id, u.upload_id_len)
    s.query[b.len if b.len < QUERY_BYTES else QUERY_BYTES - 1] = 0


cdef size_t complete_document(int max_parts, Upload *u) noexcept nogil:
    """The CompleteMultipartUpload body of u's parts, in u.document; its length."""
    cdef Buf b = buf_of(u.document, <size_t>max_parts * PART_XML_BYTES + 64)
    cdef int i
    put_str(&b, b"<CompleteMultipartUpload>")
    for i in range(u.parts):
        put_str(&b, b"<Part><PartNumber>")
        put_uint(&b, <uint64_t>(i + 1), 1)
        put_str(&b, b"</PartNumber><ETag>")
        put(&b, u.etags + i * ETAG_BYTES, u.etag_len[i])
        put_str(&b, b"</ETag></Part>")
    put_str(&b, b"</CompleteMultipartUpload>")
    return b.len


cdef Step issue_upload_request(Load *L, Conn *c, int i, uint64_t now) noexcept nogil:
    """Send upload i's due request on idle connection c: its complete or abort, else its next part."""
    cdef Slot *s = &L.slots[c.index]
    cdef Upload *u = &L.uploads[i]
    cdef Req r
    cdef uint64_t offset = 0
    memset(&r, 0, sizeof(r))
    s.upload, s.key, s.op, s.stalled, s.part = i, u.key, OP_PUT, 0, 0
    object_path(L, s)
    r.path, r.path_len = s.path, s.path_len
    if u.finish_due:
        u.finish_due = 0
        if u.failed:
            s.step, r.method = UPLOAD_ABORT, b"DELETE"
        else:
            s.step, r.method, r.has_body = UPLOAD_COMPLETE, b"POST", 1
            r.body, r.body_len = u.document, complete_document(L.max_parts, u)
    else:
        s.step, s.part, r.method, r.has_body = UPLOAD_PART, u.next_part, b"PUT", 1
        u.next_part += 1
        offset = <uint64_t>(s.part - 1) * L.part_size
        r.body = L.payload
        r.body_len = L.part_size if u.size - offset > L.part_size else u.size - offset
        if L.verify:
            r.body = stamped_body(L, s, u.key, offset, r.body_len, u.seq)
    upload_query(s, u, s.part)
    r.query, r.query_len = s.query, strlen(s.query)
    c.reply.no_body = 0
    c.reply.keep = 1                     # the initiate's UploadId, a part's ETag, a complete's <Error>
    u.inflight += 1
    if prepare(L.ep, c, &r) < 0:
        conn_reset(c)
        c.submit_ns = now
        return fail(c, L.ep.other_code)
    if s.step == UPLOAD_PART and not L.verify:
        c.body_cycle, c.body_start = L.payload_len, offset % L.payload_len
    return start(L.ep, c, now)


cdef bint keep_upload_id(Upload *u, Conn *c) noexcept nogil:
    """The UploadId of an initiate's reply, URI-encoded into u; False if there is none."""
    cdef const char *body = c.reply.kbuf + c.reply.hlen
    cdef size_t n = c.reply.klen - c.reply.hlen, i
    cdef ssize_t start = find_bytes(body, n, b"<UploadId>", 10), end
    cdef Buf b = buf_of(u.upload_id, UPLOAD_ID_BYTES)
    cdef char ch
    cdef char hex_digits[3]
    if start < 0:
        return False
    body += start + 10
    n -= start + 10
    end = find_bytes(body, n, b"<", 1)
    if end <= 0:
        return False
    for i in range(<size_t>end):
        ch = body[i]
        if 48 <= ch <= 57 or 65 <= ch <= 90 or 97 <= ch <= 122 or ch == 45 or ch == 46 or ch == 95 or ch == 126:
            put(&b, &ch, 1)
        else:
            hex_digits[0] = 37
            hex_digits[1] = b"0123456789ABCDEF"[(<unsigned char>ch) >> 4]
            hex_digits[2] = b"0123456789ABCDEF"[(<unsigned char>ch) & 15]
            put(&b, hex_digits, 3)
    u.upload_id_len = b.len
    return not b.overflow


cdef bint keep_etag(Upload *u, int part, Conn *c) noexcept nogil:
    cdef size_t n
    cdef const char *etag = kept_header(&c.reply, b"etag", &n)
    if etag == NULL or n >= ETAG_BYTES:
        return False
    memcpy(u.etags + (part - 1) * ETAG_BYTES, etag, n)
    u.etag_len[part - 1] = n
    return True


cdef void hand_out_parts(Load *L, Conn *c) noexcept nogil:
    """Set the idle connections other than c (which its caller drives next) to the parts."""
    cdef int i
    for i in range(L.ep.n):
        if &L.ep.conns[i] != c and L.ep.conns[i].state == CONN_IDLE and not L.slots[i].waiting:
            drive(L, &L.ep.conns[i])


cdef void end_upload(Load *L, Upload *u, int code, uint64_t done_ns) noexcept nogil:
    """The object's PUT ends: recorded as one operation (from its initiate to its complete)."""
    cdef Slot *owner = &L.slots[u.owner]
    u.active = 0
    if code == 0:
        keep_key(L, owner, u.key, u.size, u.seq)
        record_done(L.ctl, OP_PUT, u.start_ns, u.submit_ns, done_ns, u.size)
    else:
        record_failed(L.ctl, OP_PUT, code, u.start_ns, u.submit_ns, done_ns)


cdef void record_upload_request(Load *L, Conn *c, Slot *s, int code) noexcept nogil:
    """Account for a request of a multipart PUT; the PUT itself ends with its complete or abort."""
    cdef Upload *u = &L.uploads[s.upload]
    cdef UploadStep step = s.step
    s.step = NOT_MULTIPART
    u.inflight -= 1
    if step == UPLOAD_INITIATE:
        if code == 0 and keep_upload_id(u, c):
            hand_out_parts(L, c)         # its parts are due now, on every idle connection
            return
        end_upload(L, u, code if code else L.ep.other_code, c.done_ns)
    elif step == UPLOAD_PART:
        if code == 0 and not keep_etag(u, s.part, c):
            code = L.ep.other_code
        if code:
            record_error(&L.ctl.rec, OP_PUT_PART, code, c.done_ns)
        else:
            record_ok(&L.ctl.rec, OP_PUT_PART, c.done_ns - c.submit_ns, c.body_len, c.done_ns)
        if code == 0:
            u.parts_done += 1
        elif not u.failed:
            u.failed, u.code = 1, code
        u.finish_due = (u.failed and u.inflight == 0) or u.parts_done == u.parts
    elif step == UPLOAD_COMPLETE:
        # S3 may answer 200 to a complete that failed, with the error in the body
        if code == 0 and find_bytes(c.reply.kbuf + c.reply.hlen, c.reply.klen - c.reply.hlen, b"<Error>", 7) >= 0:
            code = L.ep.other_code
        if code == 0:
            end_upload(L, u, 0, c.done_ns)
        else:                            # abort it, so that its parts do not stay on the gateway
            u.failed, u.code, u.finish_due = 1, code, 1
    else:
        end_upload(L, u, u.code, c.done_ns)


cdef void record(Load *L, Conn *c) noexcept nogil:
    """Account for c's finished operation."""
    cdef Slot *s = &L.slots[c.index]
    cdef int code = c.code
    cdef uint64_t nbytes = c.body_len if s.op == OP_PUT else (c.reply.body_bytes if s.op == OP_GET else 0)
    if code == 0 and c.reply.status >= 300:
        code = error_code(L.ep, c)
    elif code == 0 and L.verify and s.op == OP_GET and not check_get(L, s, c):
        code = ERR_VERIFY
    back_off(L, s, c)
    if c.reconnect_ns:
        record_ok(&L.ctl.rec, OP_RECONNECT, c.reconnect_ns, 0, c.done_ns)
    if c.tls_ns:
        record_ok(&L.ctl.rec, OP_TLS_HANDSHAKE, c.tls_ns, 0, c.done_ns)
    if s.step != NOT_MULTIPART:
        record_upload_request(L, c, s, code)
        return
    if code == 0 and s.op == OP_PUT:
        keep_key(L, s, s.key, c.body_len, s.seq)
    if s.op == OP_DELETE and (code == 0 or L.delete_only):
        # a failed DELETE keeps its object for later operations (cleanup tries each one once)
        drop_key(L, s, s.key_index)
    if code:
        record_failed(L.ctl, s.op, code, s.intended_ns, c.submit_ns, c.done_ns)
    else:
        record_done(L.ctl, s.op, s.intended_ns, c.submit_ns, c.done_ns, nbytes)
        if s.op == OP_GET:
            record_ok(&L.ctl.rec, OP_GET_TTFB, c.first_byte_ns - c.submit_ns, 0, c.done_ns)


cdef void back_off(Load *L, Slot *s, Conn *c) noexcept nogil:
    """After a failed connect in the measured run, the connection waits longer each time
    (bounded); it does not retry the operation: each one that was due counts once. Prefill and
    cleanup try each object once, without waiting."""
    if not c.connect_failed or not L.measured:
        s.backoff_ns = 0
        return
    s.backoff_ns = BACKOFF_MIN_NS if s.backoff_ns == 0 else 2 * s.backoff_ns
    if s.backoff_ns > BACKOFF_MAX_NS:
        s.backoff_ns = BACKOFF_MAX_NS
    s.wake_ns = c.done_ns + s.backoff_ns


cdef void drive(Load *L, Conn *c) noexcept nogil:
    """Keep idle connection c busy; an operation that fails at once is recorded and replaced,
    unless the connection has to back off first."""
    cdef Slot *s = &L.slots[c.index]
    cdef uint64_t now = now_ns()
    cdef int upload
    while True:
        # a multipart PUT under way is finished even after the deadline: its parts were due
        upload = due_upload(L) if L.uploads != NULL else -1
        if upload >= 0:
            if issue_upload_request(L, c, upload, now) != DONE:
                return
            record(L, c)
            now = now_ns()
            continue
        if stop_due(L.ctl, now):
            return
        if s.backoff_ns and now < s.wake_ns:
            park(L, s, s.wake_ns)
            return
        if not may_submit(L.ctl, now):
            # rate mode, nothing due yet (an idle connection means a free slot): wait for the schedule
            park(L, s, <uint64_t>L.ctl.next_due_ns)
            return
        if issue(L, c, now) != DONE:
            return
        record(L, c)
        now = now_ns()


cdef inline void park(Load *L, Slot *s, uint64_t wake_ns) noexcept nogil:
    """Idle connection s waits until wake_ns (its backoff, or the next intended start)."""
    s.waiting = 1
    s.wake_ns = wake_ns
    L.waiting += 1
    if wake_ns < L.next_wake_ns:
        L.next_wake_ns = wake_ns


cdef void wake(Load *L, uint64_t now) noexcept nogil:
    """Drive the connections whose backoff is over; note when the next one's ends."""
    cdef Slot *s
    cdef int i
    L.next_wake_ns = <uint64_t>-1
    for i in range(L.ep.n):
        s = &L.slots[i]
        if not s.waiting:
            continue
        if s.wake_ns <= now:
            s.waiting = 0
            L.waiting -= 1
            drive(L, &L.ep.conns[i])
        elif s.wake_ns < L.next_wake_ns:
            L.next_wake_ns = s.wake_ns


cdef void scan(Load *L, uint64_t now) noexcept nogil:
    """Count requests newly older than --op-timeout as stalled, sample the in-flight gauges, and
    fail the requests past the driver timeout."""
    cdef Endpoint *ep = L.ep
    cdef Conn *c
    cdef Slot *s
    cdef int i
    cdef int64_t inflight[N_S3_OPS]
    cdef int64_t stalled[N_S3_OPS]
    memset(inflight, 0, sizeof(inflight))
    memset(stalled, 0, sizeof(stalled))
    for i in range(ep.n):
        c = &ep.conns[i]
        if c.state == CONN_IDLE:
            continue
        s = &L.slots[i]
        inflight[s.op] += 1
        if is_stalled(L.ctl, c.submit_ns, now):
            stalled[s.op] += 1
            if not s.stalled:
                s.stalled = 1
                record_stall(&L.ctl.rec, s.op, now)
        if now > c.submit_ns + ep.timeout_ns:              # (submit_ns may be later than now)
            fail(c, ep.timeout_code)
            record(L, c)
            drive(L, c)
    for i in range(N_S3_OPS):
        note_inflight(L.ctl, i, inflight[i], stalled[i], now)


cdef void run_load(Load *L) noexcept nogil:
    """Until the budget, the deadline or the stop flag, and every request finished; a failed
    epoll wait ends the pass (ctl.result.fatal_errno)."""
    cdef Endpoint *ep = L.ep
    cdef LoopControl *ctl = L.ctl
    cdef uint64_t now = now_ns()
    cdef int i, n
    cdef uint64_t wait_ns
    cdef timespec wait
    cdef Conn *c
    for i in range(ep.n):
        drive(L, &ep.conns[i])
    # ops in flight: requests in flight (a multipart PUT's parts are its op's)
    while ctl.result.inflight > 0 or (L.waiting > 0 and not stop_due(ctl, now)):
        wait_ns = IDLE_WAIT_NS
        if L.waiting and ctl.submitting and L.next_wake_ns < now + IDLE_WAIT_NS:
            wait_ns = L.next_wake_ns - now if L.next_wake_ns > now else 0
        wait.tv_sec, wait.tv_nsec = wait_ns // 1000000000ULL, wait_ns % 1000000000ULL
        n = epoll_pwait2(ep.epfd, ep.events, ep.n, &wait, NULL)
        if n < 0:
            if errno == EINTR:
                continue
            ctl.result.fatal_errno = errno
            return
        for i in range(n):
            c = &ep.conns[ep.events[i].data.u64]
            if c.state == CONN_IDLE:
                if not idle_alive(c):
                    close_conn(c, True)  # the server closed (or wrote to) an idle connection
            elif on_event(ep, c, ep.events[i].events) == DONE:
                record(L, c)
                drive(L, c)
        now = now_ns()
        if L.waiting and now >= L.next_wake_ns and not stop_due(ctl, now):
            wake(L, now)
        if scan_due(ctl, now):
            scan(L, now)


cdef class S3Load:
    """The load of one worker on a client's connections: objects named base + serial, a mix of
    operations, sizes drawn from a range, payloads from one preallocated random buffer (of at most
    PAYLOAD_MAX bytes: a larger object repeats it). Each connection keeps its own objects, so no
    operation races another for a key. range_size: GETs read that many bytes at a random offset.
    verify: each connection stamps its PUT bodies in a copy of the payload of its own (as large as
    its largest body) and GETs keep their bodies to check them; worker_index goes into the stamps."""

    def __init__(self, S3Client client not None, *, bytes base, bytes bucket_path, bytes list_query,
                 uint64_t size_min, uint64_t size_max, uint64_t seed, uint64_t range_size=0,
                 uint64_t multipart_threshold=0, uint64_t part_size=0, bint verify=False,
                 uint64_t worker_index=0):
        cdef uint64_t payload_len = size_max if size_max < PAYLOAD_MAX or client.ep.payload_sha256 else PAYLOAD_MAX
        cdef Load *L = &self.load
        cdef int i
        if len(base) + SERIAL_DIGITS > PATH_BYTES:
            raise ValueError("object prefix too long")
        self.client = client
        L.ep = &client.ep
        L.slots = <Slot *>calloc(client.ep.n, sizeof(Slot))
        if L.slots == NULL:
            raise MemoryError()
        for i in range(client.ep.n):
            L.slots[i].path = <char *>malloc(PATH_BYTES)
            if L.slots[i].path == NULL:
                raise MemoryError()
        self.payload = alloc_aligned(payload_len)     # (a signed payload hash needs the whole body)
        if self.payload == NULL:
            raise MemoryError(payload_len)
        fill(self.payload, payload_len, PATTERN_RANDOM, 0, seed)
        L.payload_len, L.range_size = payload_len, range_size
        if multipart_threshold and size_max > multipart_threshold:
            self._allocate_uploads(multipart_threshold, part_size, size_max)
        self._base, self._bucket_path, self._list_query = base, bucket_path, list_query
        L.payload, L.size_min, L.size_span, L.rng = self.payload, size_min, size_max - size_min, seed
        L.base, L.base_len = self._base, len(base)
        L.bucket_path, L.bucket_path_len = self._bucket_path, len(bucket_path)
        L.list_query, L.list_query_len = self._list_query, len(list_query)
        if verify:
            self._allocate_verify(seed, size_max, worker_index)

    cdef int _allocate_verify(self, uint64_t seed, uint64_t size_max, uint64_t worker_index) except -1:
        """A body buffer per connection (of the largest body: an object, or a multipart PUT's
        initiate threshold or part), each its own random payload, and the checks' counters."""
        cdef Load *L = &self.load
        cdef uint64_t body_max = verify_body_bytes(size_max, L.multipart_threshold, L.part_size)
        cdef int i
        for i in range(L.ep.n):
            L.slots[i].body = alloc_aligned(body_max)
            if L.slots[i].body == NULL:
                raise MemoryError(body_max)
            fill(L.slots[i].body, body_max, PATTERN_RANDOM, 0, seed + 1 + <uint64_t>i)
        init_verifier(&L.ver, 1)     # (no table: the connections keep their objects' seqs)
        L.verify, L.seq_base = True, worker_index << SEQ_WORKER_SHIFT
        return 0

    def verify_report(self):
        """--verify's counts and first failures (verify.pxd), None without --verify."""
        return verify_report(&self.load.ver) if self.load.verify else None

    @property
    def writes(self):
        """Serials drawn so far (PUTs started): also the worker's last write number."""
        return self.load.serial

    def go_on_from(self, const cnp.uint64_t[::1] last_seq not None, const cnp.uint64_t[::1] sizes not None,
                   const cnp.int32_t[::1] conns not None, uint64_t writes):
        """--verify-against, before any pass: each connection holds the earlier objects of its
        namesake (serial i: last write seq last_seq[i], 0 for none, of sizes[i] bytes, kept by
        connection conns[i]) to read, delete and rewrite once, in serial order, before its PUTs
        make new ones; serials and write numbers go on after `writes`."""
        cdef Load *L = &self.load
        cdef Py_ssize_t i
        cdef int j
        if not L.verify or last_seq.shape[0] != sizes.shape[0] or last_seq.shape[0] != conns.shape[0]:
            raise ValueError("go_on_from needs --verify and one size and connection per serial")
        for i in range(last_seq.shape[0] - 1, -1, -1):       # the last rewritten first: the lowest serial last
            if last_seq[i] and 0 <= conns[i] < L.ep.n:
                keep_key(L, &L.slots[conns[i]], <uint64_t>i, sizes[i], last_seq[i])
        for j in range(L.ep.n):
            L.slots[j].n_rewrite = L.slots[j].nkeys
        L.serial = L.earlier_serials = writes

    def objects(self):
        """(serial, size, last write seq, connection) of every object the connections hold, as
        numpy arrays (--verify: the run's verify map)."""
        cdef Load *L = &self.load
        cdef int j
        cdef size_t n = 0, k, at = 0
        cdef cnp.uint64_t[::1] serial_v, size_v, seq_v
        cdef cnp.int32_t[::1] conn_v
        if not L.verify:
            raise ValueError("objects() keeps sizes and seqs only with --verify")
        for j in range(L.ep.n):
            n += L.slots[j].nkeys
        serials, sizes, seqs = np.empty(n, np.uint64), np.empty(n, np.uint64), np.empty(n, np.uint64)
        conns = np.empty(n, np.int32)
        serial_v, size_v, seq_v, conn_v = serials, sizes, seqs, conns
        for j in range(L.ep.n):
            for k in range(L.slots[j].nkeys):
                serial_v[at], size_v[at], seq_v[at], conn_v[at] = (L.slots[j].keys[k], L.slots[j].sizes[k],
                                                                   L.slots[j].seqs[k], j)
                at += 1
        return serials, sizes, seqs, conns

    cdef int _allocate_uploads(self, uint64_t threshold, uint64_t part_size, uint64_t size_max) except -1:
        """One multipart upload per connection at most, each with room for an object's ETags and
        its complete document: allocated once, not per object."""
        cdef Load *L = &self.load
        cdef int i
        if part_size == 0 or (size_max + part_size - 1) // part_size > 10000:
            raise ValueError("a multipart object has 1 to 10,000 parts")
        L.multipart_threshold, L.part_size = threshold, part_size
        L.max_parts = <int>((size_max + part_size - 1) // part_size)
        L.uploads = <Upload *>calloc(L.ep.n, sizeof(Upload))
        if L.uploads == NULL:
            raise MemoryError()
        for i in range(L.ep.n):
            L.uploads[i].etags = <char *>malloc(L.max_parts * ETAG_BYTES)
            L.uploads[i].etag_len = <size_t *>malloc(L.max_parts * sizeof(size_t))
            L.uploads[i].document = <char *>malloc(L.max_parts * PART_XML_BYTES + 64)
            if L.uploads[i].etags == NULL or L.uploads[i].etag_len == NULL or L.uploads[i].document == NULL:
                raise MemoryError()
        return 0

    cdef int _set_mix(self, list mix) except -1:
        """The operations of the next pass, [(op index, weight)]."""
        set_mix(&self.load.mix, mix, N_S3_OPS)
        self.load.delete_only = len(mix) == 1 and mix[0][0] == OP_DELETE
        return 0

    cdef dict _pass(self, cnp.uint64_t[::1] hist, cnp.int64_t[::1] ts, cnp.int64_t[::1] errors,
                    cnp.int64_t[::1] stop, dict spec, list mix, bint measured):
        """One pass of the loop on the engine's skeleton (spec: _fast/engine.pxd's fields)."""
        cdef LoopControl ctl
        cdef Load *L = &self.load
        cdef int i
        self._set_mix(mix)
        init_control(&ctl, hist, ts, errors, stop, spec)
        L.ctl, L.measured = &ctl, measured
        L.waiting, L.next_wake_ns = 0, <uint64_t>-1
        for i in range(L.ep.n):
            L.slots[i].waiting = 0
        with nogil:
            run_load(L)
        L.ctl = NULL
        return result_dict(&ctl)

    def _unrecorded(self, list mix, uint64_t budget):
        """A pass recorded into scratch rows (prefill, cleanup)."""
        n_ops = len(OP_NAMES)
        now = now_ns()
        spec = {"n_ops": n_ops, "n_target_ops": n_ops, "start_ns": now, "ramp_end_ns": now,
                "deadline_ns": 2**63 - 1, "ops_limit": budget, "op_timeout_ns": 0, "max_inflight": self.load.ep.n,
                "seed": 0, "rate": 0.0, "arrivals": 0, "first_due_ns": 0.0}
        self._pass(np.zeros(N_PHASES * n_ops * NBUCKETS, np.uint64), np.zeros(n_ops * TS_FIELDS, np.int64),
                   np.zeros(N_PHASES * n_ops * ERR_CODES, np.int64), np.zeros(1, np.int64), spec, mix, False)

    def use_existing(self, bytes keys, cnp.uint64_t[::1] ends not None):
        """GET and HEAD the keys of an existing data set instead of the load's own objects: keys
        holds them URI-encoded end to end, ends[i] where key i ends."""
        cdef Py_ssize_t i
        for i in range(ends.shape[0]):
            if self.load.bucket_path_len + 1 + ends[i] - (ends[i - 1] if i else 0) > PATH_BYTES:
                raise ValueError(f"key {i} is longer than {PATH_BYTES - self.load.bucket_path_len - 1} bytes")
        self._existing, self._existing_ends = keys, ends
        self.load.existing = self._existing
        self.load.existing_ends = &ends[0] if ends.shape[0] else NULL
        self.load.n_existing = ends.shape[0]

    def prefill(self, uint64_t objects):
        """objects PUTs per connection, not recorded (as for the Python drivers, a failed one is
        not retried: GETs then find fewer objects, or PUT when a connection has none)."""
        self._unrecorded([(OP_PUT, 1)], objects * self.load.ep.n)

    def cleanup(self):
        """DELETE every object the connections still hold that this run made (not the earlier
        run's under --verify-against), not recorded."""
        cdef Slot *s
        cdef size_t k
        cdef int j
        for j in range(self.load.ep.n):
            s = &self.load.slots[j]
            s.n_rewrite = 0
            for k in range(s.nkeys, 0, -1):
                if s.keys[k - 1] <= self.load.earlier_serials:
                    drop_key(&self.load, s, k - 1)
        self._unrecorded([(OP_DELETE, 1)], 2**64 - 1)

    def run(self, cnp.uint64_t[::1] hist not None, cnp.int64_t[::1] ts not None,
            cnp.int64_t[::1] errors not None, cnp.int64_t[::1] stop not None, dict spec):
        """The measured run; spec: the engine's fields plus "mix" ([(op index, weight)])."""
        return self._pass(hist, ts, errors, stop, spec, spec["mix"], True)

    def __dealloc__(self):
        cdef int i
        if self.load.uploads != NULL:
            for i in range(self.client.ep.n):
                free(self.load.uploads[i].etags)
                free(self.load.uploads[i].etag_len)
                free(self.load.uploads[i].document)
            free(self.load.uploads)
        if self.load.slots != NULL:
            for i in range(self.client.ep.n):
                free(self.load.slots[i].path)
                free(self.load.slots[i].keys)
                free(self.load.slots[i].body)
                free(self.load.slots[i].sizes)
                free(self.load.slots[i].seqs)
            free(self.load.slots)
        free(self.payload)
        free_verifier(&self.load.ver)
