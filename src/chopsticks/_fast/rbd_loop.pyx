# cython: language_level=3
"""One worker's librbd loop: keeps `iodepth` aio operations in flight on one image, without the
GIL, and records every completion into the worker's shared-memory rows."""
from libc.stdint cimport uint64_t, int64_t
from libc.stdlib cimport calloc, free
from libc.errno cimport errno, EINTR
from posix.unistd cimport read, close
cimport numpy as cnp

from chopsticks._fast.librados cimport *
from chopsticks._fast.librbd cimport *
from chopsticks._fast.histogram cimport (Recorder, init_recorder, record_ok, record_error, record_stall,
                                        record_gauges, now_ns)
from chopsticks._fast.payload cimport alloc_aligned, fill, stamp
from chopsticks._fast.iogen cimport IoGen, init_iogen, next_io, OP_READ, OP_WRITE

cdef extern from "<sys/eventfd.h>" nogil:
    int eventfd(unsigned int initval, int flags)
    enum: EFD_CLOEXEC

cdef extern from "<poll.h>" nogil:
    struct pollfd:
        int fd
        short events
        short revents
    int poll(pollfd *fds, unsigned long nfds, int timeout)
    enum: POLLIN


class RbdError(Exception):
    """A librbd/librados call failed: `errno` is positive; `step` is one of conf, connect, pool,
    create, open, io, notify."""
    def __init__(self, int err, str step, str what):
        import os
        self.errno = err
        self.step = step
        super().__init__(f"{what}: {os.strerror(err)}")


cdef struct Slot:
    rbd_completion_t comp
    char *buf
    uint64_t offset
    uint64_t submit_ns
    uint64_t done_ns
    int op
    int stalled


cdef void _on_complete(rbd_completion_t c, void *arg) noexcept nogil:
    # Runs on librbd's finisher thread: stamp the completion time only; the worker reaps it.
    (<Slot *>arg).done_ns = now_ns()


cdef class Connection:
    """A librados cluster handle + pool ioctx (+ an open image)."""
    cdef rados_t cluster
    cdef rados_ioctx_t ioctx
    cdef rbd_image_t image
    cdef readonly uint64_t image_size
    cdef readonly uint64_t object_size
    cdef readonly str fsid

    def __init__(self, str conf, str client_name, str keyring, str pool, str image,
                 int connect_timeout_s=10, bint create=False, uint64_t create_size=0, bint flush_on_open=False):
        cdef int r
        cdef bytes b_name = client_name.encode(), b_conf = conf.encode(), b_pool = pool.encode()
        cdef bytes b_image = image.encode()
        cdef bytes b_timeout = str(connect_timeout_s).encode()
        cdef const char *c_image = b_image
        cdef char fsid_buf[64]
        cdef int order = 0
        cdef rbd_image_info_t info
        r = rados_create2(&self.cluster, b"ceph", b_name, 0)
        if r < 0:
            raise RbdError(-r, "conf", f"rados_create2({client_name})")
        r = rados_conf_read_file(self.cluster, b_conf)
        if r < 0:
            raise RbdError(-r, "conf", f"reading {conf}")
        if keyring:
            rados_conf_set(self.cluster, b"keyring", keyring.encode())
        # Fail fast on an unreachable cluster instead of librados's 300 s default.
        rados_conf_set(self.cluster, b"client_mount_timeout", b_timeout)
        rados_conf_set(self.cluster, b"rados_mon_op_timeout", b_timeout)
        with nogil:
            r = rados_connect(self.cluster)
        if r < 0:
            raise RbdError(-r, "connect", f"connecting to the cluster of {conf} as {client_name}")
        if rados_cluster_fsid(self.cluster, fsid_buf, sizeof(fsid_buf)) >= 0:
            self.fsid = fsid_buf.decode()
        r = rados_ioctx_create(self.cluster, b_pool, &self.ioctx)
        if r < 0:
            raise RbdError(-r, "pool", f"opening pool '{pool}'")
        if create:
            with nogil:
                r = rbd_create(self.ioctx, c_image, create_size, &order)
            if r < 0 and r != -17:  # EEXIST: reuse the image
                raise RbdError(-r, "create", f"creating image '{pool}/{image}'")
        with nogil:
            r = rbd_open(self.ioctx, c_image, &self.image, NULL)
        if r < 0:
            raise RbdError(-r, "open", f"opening image '{pool}/{image}'")
        r = rbd_stat(self.image, &info, sizeof(info))
        if r < 0:
            raise RbdError(-r, "open", f"stat of image '{pool}/{image}'")
        self.image_size = info.size
        self.object_size = info.obj_size
        if flush_on_open:
            # As fio and rbd bench do: librbd's cache (writethrough until the first flush by
            # default) then runs in its configured mode, and writes may complete before the OSDs ack.
            with nogil:
                r = rbd_flush(self.image)
            if r < 0:
                raise RbdError(-r, "open", f"flush of image '{pool}/{image}'")

    def close(self):
        with nogil:
            if self.image != NULL:
                rbd_close(self.image)
                self.image = NULL
            if self.ioctx != NULL:
                rados_ioctx_destroy(self.ioctx)
                self.ioctx = NULL
            if self.cluster != NULL:
                rados_shutdown(self.cluster)
                self.cluster = NULL

    def __dealloc__(self):
        self.close()

    def run(self, cnp.uint64_t[::1] hist not None, cnp.int64_t[::1] ts not None,
            cnp.int64_t[::1] errors not None, cnp.int64_t[::1] stop not None,
            dict spec):
        """Drive the loop until stop[0] != 0, the deadline, or the op budget; returns counters."""
        cdef Recorder rec
        cdef IoGen gen
        cdef int iodepth = spec["iodepth"]
        cdef uint64_t bs = spec["bs"]
        cdef uint64_t deadline_ns = spec["deadline_ns"]
        cdef uint64_t ops_limit = spec["ops_limit"]
        cdef uint64_t op_timeout_ns = spec["op_timeout_ns"]
        cdef int stamp_writes = spec["pattern"] != "zero"
        cdef Slot *slots = <Slot *>calloc(iodepth, sizeof(Slot))
        cdef rbd_completion_t *done = <rbd_completion_t *>calloc(iodepth, sizeof(rbd_completion_t))
        cdef int efd = -1, i, n, r, inflight = 0
        cdef uint64_t submitted = 0, completed = 0, seq = 0, now, last_stall_check = 0
        cdef int64_t *stop_flag = &stop[0]
        cdef Slot *s
        cdef ssize_t ret
        cdef uint64_t counter
        cdef pollfd pfd
        cdef bint submitting = True
        cdef int fatal = 0
        if slots == NULL or done == NULL:
            free(slots); free(done)
            raise MemoryError()
        init_recorder(&rec, hist, ts, errors, spec)
        init_iogen(&gen, spec)
        try:
            for i in range(iodepth):
                slots[i].buf = alloc_aligned(bs)
                if slots[i].buf == NULL:
                    raise MemoryError(bs)
                fill(slots[i].buf, bs, spec["pattern_code"], spec["compressible_pct"], spec["seed"] * 7919 + i)
            efd = eventfd(0, EFD_CLOEXEC)
            if efd < 0:
                raise OSError(errno, "eventfd")
            r = rbd_set_image_notification(self.image, efd, EVENT_TYPE_EVENTFD)
            if r < 0:
                raise RbdError(-r, "notify", "rbd_set_image_notification")
            pfd.fd = efd
            pfd.events = POLLIN
            with nogil:
                now = now_ns()
                for i in range(iodepth):
                    if submitted >= ops_limit or now >= deadline_ns:
                        break
                    fatal = _submit(self.image, &slots[i], &gen, bs, stamp_writes, &seq, &rec)
                    if fatal:
                        break
                    submitted += 1
                    inflight += 1
                while inflight > 0:
                    r = poll(&pfd, 1, 100)
                    now = now_ns()
                    if r > 0:
                        read(efd, &counter, 8)
                        n = rbd_poll_io_events(self.image, done, iodepth)
                        for i in range(n):
                            s = <Slot *>rbd_aio_get_arg(done[i])
                            ret = rbd_aio_get_return_value(done[i])
                            rbd_aio_release(done[i])
                            inflight -= 1
                            completed += 1
                            if s.done_ns == 0:
                                s.done_ns = now
                            if ret < 0:
                                record_error(&rec, s.op, <int>(-ret), s.done_ns)
                            else:
                                record_ok(&rec, s.op, s.done_ns - s.submit_ns, bs, s.done_ns)
                            if submitting and (stop_flag[0] != 0 or submitted >= ops_limit or now >= deadline_ns):
                                submitting = False
                                rec.draining = 1
                            if submitting:
                                fatal = _submit(self.image, s, &gen, bs, stamp_writes, &seq, &rec)
                                if fatal:
                                    submitting = False     # counted as an error; drain, then report
                                    rec.draining = 1
                                    continue
                                submitted += 1
                                inflight += 1
                    elif r < 0 and errno != EINTR:
                        fatal = errno
                        break
                    if stop_flag[0] != 0 or now >= deadline_ns:
                        submitting = False
                        rec.draining = 1
                    if now - last_stall_check > 100000000ULL:
                        last_stall_check = now
                        _count_stalled(slots, iodepth, now, op_timeout_ns, &rec)
            return {"submitted": submitted, "completed": completed, "inflight_left": inflight,
                    "fatal_errno": fatal}
        finally:
            if inflight == 0:
                for i in range(iodepth):
                    free(slots[i].buf)
                free(slots)
                free(done)
            if efd >= 0:
                close(efd)


cdef int _submit(rbd_image_t image, Slot *s, IoGen *gen, uint64_t bs, int stamp_writes,
                 uint64_t *seq, Recorder *rec) noexcept nogil:
    """Queue the next operation in slot s; a failed submission is counted as an error (non-zero return)."""
    cdef int r
    s.op = next_io(gen, &s.offset)
    s.done_ns = 0
    s.stalled = 0
    r = rbd_aio_create_completion(s, _on_complete, &s.comp)
    if r < 0:
        record_error(rec, s.op, -r, now_ns())
        return -r
    if s.op == OP_WRITE:
        if stamp_writes:
            seq[0] += 1
            stamp(s.buf, bs, s.offset, seq[0])
        s.submit_ns = now_ns()
        r = rbd_aio_write(image, s.offset, bs, s.buf, s.comp)
    else:
        s.submit_ns = now_ns()
        r = rbd_aio_read(image, s.offset, bs, s.buf, s.comp)
    if r < 0:
        rbd_aio_release(s.comp)
        record_error(rec, s.op, -r, now_ns())
        return -r
    return 0


cdef void _count_stalled(Slot *slots, int n, uint64_t now, uint64_t timeout_ns, Recorder *rec) noexcept nogil:
    # Every ~100 ms: count each op newly past --op-timeout once, and sample the in-flight gauges.
    cdef int i
    cdef int64_t inflight[2]
    cdef int64_t stalled[2]
    inflight[0] = inflight[1] = stalled[0] = stalled[1] = 0
    for i in range(n):
        if slots[i].done_ns != 0 or slots[i].submit_ns == 0:
            continue
        inflight[slots[i].op] += 1
        if timeout_ns > 0 and now > slots[i].submit_ns + timeout_ns:
            stalled[slots[i].op] += 1
            if slots[i].stalled == 0:
                slots[i].stalled = 1
                record_stall(rec, slots[i].op, now)
    record_gauges(rec, OP_READ, inflight[OP_READ], stalled[OP_READ], now)
    record_gauges(rec, OP_WRITE, inflight[OP_WRITE], stalled[OP_WRITE], now)
