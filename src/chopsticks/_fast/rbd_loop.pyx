# cython: language_level=3
"""One worker's librbd loop: keeps up to `max_inflight` aio operations in flight on one image
(as fast as they complete, or at their intended starts in rate mode), without the GIL, and records
every completion into the worker's shared-memory rows (the skeleton: _fast/engine.pxd)."""
from libc.stdint cimport uint64_t, int64_t
from libc.stdlib cimport calloc, free
from libc.errno cimport errno, EINTR
from posix.unistd cimport read, close
cimport numpy as cnp

from chopsticks._fast.librados cimport *
from chopsticks._fast.librbd cimport *
from chopsticks._fast.cluster cimport connect_cluster, disconnect_cluster
from chopsticks._fast.histogram cimport record_error, record_stall, start_drain, now_ns
from chopsticks._fast.engine cimport (LoopControl, init_control, may_submit, stop_due, begin_op, unsubmit, wait_ns,
                                     record_done, record_failed, scan_due, note_inflight, is_stalled, result_dict)
from chopsticks._fast.histogram cimport ERR_VERIFY
from chopsticks._fast.payload cimport alloc_aligned, fill, stamp, SEQ_WORKER_SHIFT
from chopsticks._fast.iogen cimport IoGen, init_iogen, next_io, OP_READ, OP_WRITE, RW_VERIFY
from chopsticks._fast.verify cimport (Verifier, init_verifier, start_from, free_verifier, wrote, expected, verify_read,
                                     verify_report, map_bytes)
from chopsticks._fast.events cimport eventfd, EFD_CLOEXEC, pollfd, ppoll, POLLIN, timespec


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
    uint64_t intended_ns         # rate mode: when the op should have started (else = submit_ns)
    uint64_t submit_ns           # 0 while the slot is free
    uint64_t done_ns
    uint64_t seq                 # a write's stamp; a read's expected minimum (--verify)
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
        cdef bytes b_pool = pool.encode(), b_image = image.encode()
        cdef const char *c_image = b_image
        cdef int order = 0
        cdef rbd_image_info_t info
        self.fsid = connect_cluster(&self.cluster, conf, client_name, keyring, connect_timeout_s, RbdError)
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
            disconnect_cluster(&self.cluster, &self.ioctx)

    def __dealloc__(self):
        self.close()

    def run(self, cnp.uint64_t[::1] hist not None, cnp.int64_t[::1] ts not None,
            cnp.int64_t[::1] errors not None, cnp.int64_t[::1] stop not None,
            dict spec):
        """Drive the loop until stop[0] != 0, the deadline, or the op budget; returns counters."""
        cdef LoopControl ctl
        cdef IoGen gen
        cdef int depth = spec["max_inflight"]
        cdef uint64_t bs = spec["bs"]
        cdef int stamp_writes = spec["pattern"] != "zero"
        cdef bint verify = spec["verify"]
        cdef Verifier ver
        cdef Slot *slots = <Slot *>calloc(depth, sizeof(Slot))
        cdef Slot **free_slots = <Slot **>calloc(depth, sizeof(Slot *))
        cdef rbd_completion_t *done = <rbd_completion_t *>calloc(depth, sizeof(rbd_completion_t))
        cdef int efd = -1, i, n, r, n_free = depth
        cdef uint64_t seq = (<uint64_t>spec["worker_index"]) << SEQ_WORKER_SHIFT, now, wait, counter
        cdef Slot *s
        cdef ssize_t ret
        cdef pollfd pfd
        cdef timespec timeout
        if slots == NULL or free_slots == NULL or done == NULL:
            free(slots); free(free_slots); free(done)
            raise MemoryError()
        init_control(&ctl, hist, ts, errors, stop, spec)
        init_iogen(&gen, spec)
        ver.last_seq = NULL
        if gen.rw == RW_VERIFY:             # one pass writing the span, one reading it back
            ctl.budget = min(ctl.budget, 2 * gen.nblocks)
        try:
            if verify:
                init_verifier(&ver, gen.nblocks)            # one key per bs-block of the span
                if spec.get("verify_from") is not None:     # --verify-against: an earlier run's record
                    start_from(&ver, spec["verify_from"][0])
                    seq |= <uint64_t>spec["verify_from"][1]  # this worker's write numbers go on from there
            for i in range(depth):
                free_slots[i] = &slots[depth - 1 - i]
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
                while True:
                    while may_submit(&ctl, now):
                        if gen.rw == RW_VERIFY and gen.passes == 1 and gen.next_block == 0 and ctl.result.inflight:
                            break           # the read pass starts once every write completed
                        n_free -= 1
                        s = free_slots[n_free]
                        s.intended_ns = begin_op(&ctl, now)
                        ctl.result.fatal_errno = _submit(self.image, s, &gen, bs, stamp_writes, &seq,
                                                         &ver if verify else NULL)
                        if ctl.result.fatal_errno:
                            # counted as an error; drain, then report
                            unsubmit(&ctl)
                            record_error(&ctl.rec, s.op, ctl.result.fatal_errno, now_ns())
                            free_slots[n_free] = s
                            n_free += 1
                            ctl.submitting = False
                            start_drain(&ctl.rec, now_ns())
                            break
                        now = now_ns()
                    if ctl.result.inflight == 0 and stop_due(&ctl, now):
                        break
                    wait = wait_ns(&ctl, now)
                    timeout.tv_sec = wait // 1000000000ULL
                    timeout.tv_nsec = wait % 1000000000ULL
                    r = ppoll(&pfd, 1, &timeout, NULL)
                    now = now_ns()
                    if r > 0:
                        read(efd, &counter, 8)
                        n = rbd_poll_io_events(self.image, done, depth)
                        for i in range(n):
                            s = <Slot *>rbd_aio_get_arg(done[i])
                            ret = rbd_aio_get_return_value(done[i])
                            rbd_aio_release(done[i])
                            if s.done_ns == 0:
                                s.done_ns = now
                            if ret < 0:
                                record_failed(&ctl, s.op, <int>(-ret), s.intended_ns, s.submit_ns, s.done_ns)
                            elif verify and s.op == OP_READ and not verify_read(&ver, s.buf, bs, s.offset, s.seq):
                                record_failed(&ctl, s.op, ERR_VERIFY, s.intended_ns, s.submit_ns, s.done_ns)
                            else:
                                if verify and s.op == OP_WRITE:
                                    wrote(&ver, (s.offset - gen.start) // bs, s.seq)
                                record_done(&ctl, s.op, s.intended_ns, s.submit_ns, s.done_ns, bs)
                            s.submit_ns = 0
                            free_slots[n_free] = s
                            n_free += 1
                    elif r < 0 and errno != EINTR:
                        ctl.result.fatal_errno = errno
                        break
                    if scan_due(&ctl, now):
                        _scan(&ctl, slots, depth, now)
            result = result_dict(&ctl)
            if verify:
                result["verify"] = verify_report(&ver)
                result["verify_map"] = map_bytes(&ver)
                result["writes"] = seq & ((1ULL << SEQ_WORKER_SHIFT) - 1)
            return result
        finally:
            if ctl.result.inflight == 0:
                free_verifier(&ver)
            if ctl.result.inflight == 0:
                for i in range(depth):
                    free(slots[i].buf)
                free(slots)
                free(free_slots)
                free(done)
            if efd >= 0:
                close(efd)


cdef int _submit(rbd_image_t image, Slot *s, IoGen *gen, uint64_t bs, int stamp_writes,
                 uint64_t *seq, Verifier *ver) noexcept nogil:
    """Queue the next operation in slot s; returns 0 or the errno of a failed submission."""
    cdef int r
    s.op = next_io(gen, &s.offset)
    s.done_ns = 0
    s.stalled = 0
    r = rbd_aio_create_completion(s, _on_complete, &s.comp)
    if r < 0:
        return -r
    if s.op == OP_WRITE:
        if stamp_writes:
            seq[0] += 1
            s.seq = seq[0]
            stamp(s.buf, bs, s.offset, seq[0])
        s.submit_ns = now_ns()
        r = rbd_aio_write(image, s.offset, bs, s.buf, s.comp)
    else:
        if ver != NULL:
            s.seq = expected(ver, (s.offset - gen.start) // bs)
        s.submit_ns = now_ns()
        r = rbd_aio_read(image, s.offset, bs, s.buf, s.comp)
    if r < 0:
        rbd_aio_release(s.comp)
        s.submit_ns = 0
        return -r
    return 0


cdef void _scan(LoopControl *ctl, Slot *slots, int n, uint64_t now) noexcept nogil:
    """Count each op newly past --op-timeout once, and sample the in-flight gauges."""
    cdef int i
    cdef int64_t inflight[2]
    cdef int64_t stalled[2]
    inflight[0] = inflight[1] = stalled[0] = stalled[1] = 0
    for i in range(n):
        if slots[i].done_ns != 0 or slots[i].submit_ns == 0:
            continue
        inflight[slots[i].op] += 1
        if is_stalled(ctl, slots[i].submit_ns, now):
            stalled[slots[i].op] += 1
            if slots[i].stalled == 0:
                slots[i].stalled = 1
                record_stall(&ctl.rec, slots[i].op, now)
    note_inflight(ctl, OP_READ, inflight[OP_READ], stalled[OP_READ], now)
    note_inflight(ctl, OP_WRITE, inflight[OP_WRITE], stalled[OP_WRITE], now)
