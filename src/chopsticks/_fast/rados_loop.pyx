# cython: language_level=3
"""One worker's librados loop: keeps up to `max_inflight` aio operations (write_full, read, stat,
remove) in flight on the worker's own objects (as fast as they complete, or at their intended
starts in rate mode), without the GIL, and records every completion into the worker's
shared-memory rows (the skeleton: _fast/engine.pxd). The same loop writes the objects before a
run (prefill) and removes them after it (cleanup), recording into scratch rows."""
from libc.stdint cimport uint8_t, uint64_t, int64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memset
from libc.errno cimport errno, EINTR, ENOENT
from posix.unistd cimport read, write, close
from posix.time cimport time_t
import numpy as np
cimport numpy as cnp

from chopsticks._fast.librados cimport *
from chopsticks._fast.cluster cimport connect_cluster, disconnect_cluster
from chopsticks._fast.histogram cimport (record_error, record_stall, start_drain, now_ns, NBUCKETS, N_PHASES,
                                        ERR_CODES, TS_FIELDS, ERR_VERIFY)
from chopsticks._fast.verify cimport (Verifier, init_verifier, start_from, free_verifier, wrote, expected, verify_read,
                                     verify_report, map_bytes)
from chopsticks._fast.engine cimport (LoopControl, init_control, may_submit, stop_due, begin_op, unsubmit, wait_ns,
                                     record_done, record_failed, scan_due, note_inflight, is_stalled, result_dict)
from chopsticks._fast.payload cimport alloc_aligned, fill, stamp, splitmix64, PATTERN_RANDOM
from chopsticks._fast.mix cimport Mix, set_mix as _set_mix, pick_op
from chopsticks._fast.events cimport eventfd, EFD_CLOEXEC, pollfd, ppoll, POLLIN, timespec

cdef extern from *:
    """
    #define chopsticks_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
    #define chopsticks_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
    """
    uint64_t load_acquire "chopsticks_load_acquire" (uint64_t *p) nogil
    void store_release "chopsticks_store_release" (uint64_t *p, uint64_t v) nogil

cdef enum:
    OP_WRITE = 0
    OP_READ = 1
    OP_STAT = 2
    OP_DELETE = 3
    N_OPS = 4
    ACCESS_SEQ = 0
    ACCESS_RAND = 1

OP_NAMES = ("write", "read", "stat", "delete")    # index = OP_WRITE, OP_READ, OP_STAT, OP_DELETE
ACCESS_MODES = {"seq": ACCESS_SEQ, "rand": ACCESS_RAND}


class RadosError(Exception):
    """A librados call failed: `errno` is positive; `step` is one of conf, connect, pool, create."""
    def __init__(self, int err, str step, str what):
        import os
        self.errno = err
        self.step = step
        super().__init__(f"{what}: {os.strerror(err)}")


cdef struct Slot:
    rados_completion_t comp
    char *buf                    # size_max bytes: the write payload, or where a read lands
    uint64_t obj
    uint64_t nbytes              # bytes written
    uint64_t psize               # rados_aio_stat's answers
    time_t pmtime
    uint64_t intended_ns         # rate mode: when the op should have started (else = submit_ns)
    uint64_t submit_ns           # 0 while the slot is free
    uint64_t done_ns             # stamped by the completion callback; 0 while in flight
    uint64_t seq                 # a write's stamp; a read's expected minimum (--verify)
    int notify_fd
    int op
    int stalled


cdef struct Load:
    rados_ioctx_t io
    Slot *slots
    Slot **free_slots
    int nslots
    int nfree
    const char *names            # nobjects NUL-terminated names, name_stride bytes apart
    size_t name_stride
    uint8_t *exists              # per object: written by this run or the prefill, not deleted since
    uint64_t nobjects
    uint64_t nexisting
    Mix mix
    int delete_only              # with no object left, the load retires
    int access
    uint64_t cursor              # next object, for ACCESS_SEQ
    uint64_t rng
    uint64_t size_min
    uint64_t size_span           # write sizes are drawn from [size_min, size_min + size_span]
    uint64_t size_max
    uint64_t seq                 # write sequence number, stamped into every 4 KiB block
    bint verify                  # check every object read against its stamps and this load's writes
    Verifier ver                 # one key per object


cdef void _on_complete(rados_completion_t c, void *arg) noexcept nogil:
    # Runs on a librados thread: stamp the completion time, then wake the worker. librados has no
    # completion queue to poll (librbd's rbd_poll_io_events), so the slot is the queue: the worker
    # wakes on the eventfd and reaps every slot stamped since, in any order. Waiting on the oldest
    # op instead (rados_aio_wait_for_complete_and_cb, no eventfd) was measured on the lab, 4 KiB,
    # QD16, 3 alternated rounds of 10 s: writes 3,939 vs 5,848 IOPS, reads 10,060 vs 17,079, and
    # more worker CPU per op (26.3 vs 23.9 µs, 28.2 vs 18.4): an op done behind a slower one waits
    # to be replaced, so fewer are in flight. That wait also has no timeout, which the stall scan
    # and rate mode's schedule need.
    cdef Slot *s = <Slot *>arg
    cdef uint64_t one = 1
    store_release(&s.done_ns, now_ns())
    write(s.notify_fd, &one, 8)


cdef class PoolConnection:
    """A librados cluster handle and an I/O context on one pool (and namespace)."""
    cdef rados_t cluster
    cdef rados_ioctx_t ioctx
    cdef readonly str fsid

    def __init__(self, str conf, str client_name, str keyring, str pool, str namespace="",
                 int connect_timeout_s=10, bint create_pool=False):
        cdef int r
        cdef bytes b_pool = pool.encode()
        cdef const char *c_pool = b_pool
        self.fsid = connect_cluster(&self.cluster, conf, client_name, keyring, connect_timeout_s, RadosError)
        if create_pool and rados_pool_lookup(self.cluster, c_pool) < 0:
            self._create_pool(pool)
        r = rados_ioctx_create(self.cluster, c_pool, &self.ioctx)
        if r < 0:
            raise RadosError(-r, "pool", f"opening pool '{pool}'")
        if namespace:
            rados_ioctx_set_namespace(self.ioctx, namespace.encode())

    def _create_pool(self, str pool):
        """Create the pool with the cluster's default PG count and tag it for the `rados`
        application (an untagged pool turns the cluster's health to HEALTH_WARN)."""
        cdef int r
        cdef bytes b_pool = pool.encode()
        cdef const char *c_pool = b_pool
        with nogil:
            r = rados_pool_create(self.cluster, c_pool)
        if r < 0 and r != -17:  # EEXIST: created meanwhile
            raise RadosError(-r, "create", f"creating pool '{pool}'")
        import json
        self.mon_command(json.dumps({"prefix": "osd pool application enable", "pool": pool, "app": "rados"}),
                         "create", f"enabling application 'rados' on pool '{pool}'")

    def mon_command(self, str command, str step, str what) -> bytes:
        """Send one JSON command to the monitors; its output, or RadosError."""
        cdef bytes b_cmd = command.encode()
        cdef const char *cmd = b_cmd
        cdef char *outbuf = NULL
        cdef char *outs = NULL
        cdef size_t outbuf_len = 0, outs_len = 0
        cdef int r
        with nogil:
            r = rados_mon_command(self.cluster, &cmd, 1, NULL, 0, &outbuf, &outbuf_len, &outs, &outs_len)
        try:
            if r < 0:
                raise RadosError(-r, step, what + (f" ({outs[:outs_len].decode(errors='replace')})" if outs_len else ""))
            return outbuf[:outbuf_len] if outbuf_len else b""
        finally:
            rados_buffer_free(outbuf)
            rados_buffer_free(outs)

    def close(self):
        with nogil:
            disconnect_cluster(&self.cluster, &self.ioctx)

    def __dealloc__(self):
        self.close()


cdef class ObjectLoad:
    """The load of one worker on its own objects `<prefix><index>` (index zero-padded, 0 ..
    nobjects-1): `depth` slots, each with a payload buffer of size_max bytes, allocated here and
    reused for every operation. Payloads are random (from the run's seed in run()), and every
    4 KiB block written is stamped with the object's index and a sequence number."""
    cdef PoolConnection conn
    cdef Load load
    cdef bytes _names
    cdef int inflight_left      # ops still in flight when a pass gave up: their slots stay allocated

    def __init__(self, PoolConnection conn not None, str prefix, uint64_t nobjects, uint64_t size_min,
                 uint64_t size_max, int depth, bint prefilled, bint verify=False, tuple verify_from=None):
        """prefilled: every object was written by prefill() of a load on the same objects.
        verify_from (with verify): an earlier run's (last write seq per object, write count) to go
        on from (--verify-against): its objects exist, and this load's writes are numbered after its."""
        cdef Load *L = &self.load
        cdef int i, notify_fd
        cdef uint64_t obj
        if nobjects == 0 or depth < 1 or size_min > size_max:
            raise ValueError("ObjectLoad needs objects, depth >= 1 and size_min <= size_max")
        self.conn = conn
        width = len(str(nobjects - 1))
        self._names = b"".join(f"{prefix}{i:0{width}d}\0".encode() for i in range(nobjects))
        memset(L, 0, sizeof(Load))
        L.io = conn.ioctx
        L.names, L.name_stride, L.nobjects = self._names, len(self._names) // nobjects, nobjects
        L.exists = <uint8_t *>calloc(nobjects, 1)
        L.slots = <Slot *>calloc(depth, sizeof(Slot))
        L.free_slots = <Slot **>calloc(depth, sizeof(Slot *))
        if L.exists == NULL or L.slots == NULL or L.free_slots == NULL:
            raise MemoryError()
        L.nslots = depth
        if prefilled:
            memset(L.exists, 1, nobjects)
            L.nexisting = nobjects
        L.size_min, L.size_span, L.size_max = size_min, size_max - size_min, size_max
        L.verify = verify
        if verify:
            init_verifier(&L.ver, nobjects)
            if prefilled:               # the prefill wrote object k as its write k + 1: in order, once each
                for obj in range(nobjects):
                    L.ver.last_seq[obj] = obj + 1
                L.seq = nobjects
            if verify_from is not None:
                start_from(&L.ver, verify_from[0])
                L.seq = verify_from[1]
                for obj in range(nobjects):
                    if L.ver.last_seq[obj] and not L.exists[obj]:
                        L.exists[obj] = 1
                        L.nexisting += 1
        notify_fd = eventfd(0, EFD_CLOEXEC)
        if notify_fd < 0:
            raise OSError(errno, "eventfd")
        for i in range(depth):
            L.slots[i].notify_fd = notify_fd
            L.slots[i].buf = alloc_aligned(size_max)
            if L.slots[i].buf == NULL:
                raise MemoryError(size_max)
        self._fill(1)

    cdef void _fill(self, uint64_t seed):
        cdef int i
        self.load.rng = seed
        for i in range(self.load.nslots):
            fill(self.load.slots[i].buf, self.load.size_max, PATTERN_RANDOM, 0, seed + <uint64_t>i)

    def run(self, cnp.uint64_t[::1] hist not None, cnp.int64_t[::1] ts not None,
            cnp.int64_t[::1] errors not None, cnp.int64_t[::1] stop not None, dict spec):
        """The measured run, until stop[0] != 0, the deadline or the op budget; spec: the engine's
        fields (_fast/engine.pxd) plus "mix" ([(op index, weight)]), "access" and "size_min"."""
        self._fill(spec["seed"])
        return self._drive(hist, ts, errors, stop, spec, spec["mix"], spec["access"], 0, spec["size_min"])

    def prefill(self, uint64_t first, uint64_t count):
        """Write objects first .. first+count-1 (size_max bytes each) into scratch rows; returns
        (failed writes, errno of one of them). Chunks called in order from 0 write object k as this
        load's write k + 1, what a prefilled load's verifier starts from."""
        return self._unrecorded([(OP_WRITE, 1)], first, count, ())

    def cleanup(self):
        """Remove every object this load wrote or was prefilled with, into scratch rows; returns
        (failed removals other than ENOENT, errno of one of them)."""
        return self._unrecorded([(OP_DELETE, 1)], 0, 2**63 - 1, (ENOENT,))

    def _unrecorded(self, list mix, uint64_t first, uint64_t budget, tuple ignored):
        hist = np.zeros(N_PHASES * N_OPS * NBUCKETS, dtype=np.uint64)
        ts = np.zeros(N_OPS * TS_FIELDS, dtype=np.int64)
        errors = np.zeros(N_PHASES * N_OPS * ERR_CODES, dtype=np.int64)
        stop = np.zeros(1, dtype=np.int64)
        now = now_ns()
        spec = {"n_ops": N_OPS, "n_target_ops": N_OPS, "start_ns": now, "ramp_end_ns": now,
                "deadline_ns": 2**63 - 1, "ops_limit": budget, "op_timeout_ns": 0,
                "max_inflight": self.load.nslots, "seed": self.load.rng, "rate": 0.0, "arrivals": 0,
                "first_due_ns": 0.0}
        result = self._drive(hist, ts, errors, stop, spec, mix, ACCESS_SEQ, first, self.load.size_max)
        by_code = errors.reshape(N_PHASES, N_OPS, ERR_CODES).sum(axis=(0, 1))
        by_code[list(ignored)] = 0
        codes = np.nonzero(by_code)[0]
        return int(by_code.sum()), int(codes[0]) if len(codes) else result["fatal_errno"]

    cdef dict _drive(self, cnp.uint64_t[::1] hist, cnp.int64_t[::1] ts, cnp.int64_t[::1] errors,
                     cnp.int64_t[::1] stop, dict spec, list mix, int access, uint64_t first, uint64_t size_min):
        cdef LoopControl ctl
        cdef Load *L = &self.load
        cdef int i
        if self.inflight_left:
            raise RuntimeError("an earlier pass left operations in flight")
        set_mix(L, mix)
        L.access, L.cursor = access, first % L.nobjects
        L.size_min, L.size_span = size_min, L.size_max - size_min
        for i in range(L.nslots):
            L.free_slots[i] = &L.slots[L.nslots - 1 - i]
        L.nfree = L.nslots
        init_control(&ctl, hist, ts, errors, stop, spec)
        with nogil:
            run_load(L, &ctl)
        self.inflight_left = ctl.result.inflight
        return result_dict(&ctl)

    def __dealloc__(self):
        cdef Load *L = &self.load
        cdef int i
        if self.inflight_left:
            return                  # callbacks may still write into the slots: leave them
        if L.slots != NULL:
            if L.slots[0].notify_fd > 0:
                close(L.slots[0].notify_fd)
            for i in range(L.nslots):
                free(L.slots[i].buf)
        free(L.slots)
        free(L.free_slots)
        free(L.exists)
        free_verifier(&L.ver)

    def verify_report(self):
        """--verify's counts and first failures for this load (None without --verify)."""
        return verify_report(&self.load.ver) if self.load.verify else None

    def verify_map(self):
        """(last write seq per object as uint64 bytes, write count) for the run's verify map."""
        return (map_bytes(&self.load.ver), self.load.seq) if self.load.verify else None


cdef int set_mix(Load *L, list mix) except -1:
    """The ops of the next pass, [(op index, weight)]."""
    _set_mix(&L.mix, mix, N_OPS)
    L.delete_only = len(mix) == 1 and mix[0][0] == OP_DELETE
    return 0


cdef uint64_t pick_object(Load *L) noexcept nogil:
    """The next object: in order or at random; a delete-only load skips to one that exists."""
    cdef uint64_t obj
    if L.access == ACCESS_RAND:
        obj = splitmix64(&L.rng) % L.nobjects
    else:
        obj = L.cursor
        L.cursor = obj + 1 if obj + 1 < L.nobjects else 0
    if L.delete_only:
        while not L.exists[obj]:
            obj = obj + 1 if obj + 1 < L.nobjects else 0
    return obj


cdef int submit(Load *L, Slot *s) noexcept nogil:
    """Start the next operation in slot s: 0, or the errno of a failed submission."""
    cdef int r
    cdef int op = pick_op(&L.mix, &L.rng)
    cdef uint64_t obj = pick_object(L)
    cdef const char *name = L.names + obj * L.name_stride
    if op != OP_WRITE and not L.exists[obj]:
        op = OP_WRITE                # read, stat or delete of an object deleted earlier in a mix
    s.op, s.obj, s.done_ns, s.stalled = op, obj, 0, 0
    r = rados_aio_create_completion2(s, _on_complete, &s.comp)
    if r < 0:
        return -r
    if op == OP_WRITE:
        s.nbytes = L.size_min + (splitmix64(&L.rng) % (L.size_span + 1) if L.size_span else 0)
        L.seq += 1
        s.seq = L.seq
        stamp(s.buf, s.nbytes, obj, L.seq)       # the object's index where rbd stamps the offset
        if not L.exists[obj]:
            L.exists[obj] = 1
            L.nexisting += 1
        s.submit_ns = now_ns()
        r = rados_aio_write_full(L.io, name, s.comp, s.buf, s.nbytes)
    elif op == OP_READ:
        if L.verify:
            s.seq = expected(&L.ver, obj)
        s.submit_ns = now_ns()
        r = rados_aio_read(L.io, name, s.comp, s.buf, L.size_max, 0)
    elif op == OP_STAT:
        s.submit_ns = now_ns()
        r = rados_aio_stat(L.io, name, s.comp, &s.psize, &s.pmtime)
    else:
        L.exists[obj] = 0            # later reads of it in this run become writes, not ENOENT
        L.nexisting -= 1
        s.submit_ns = now_ns()
        r = rados_aio_remove(L.io, name, s.comp)
    if r < 0:
        rados_aio_release(s.comp)
        s.submit_ns = 0
        return -r
    return 0


cdef void reap(Load *L, LoopControl *ctl, Slot *s) noexcept nogil:
    """Account for slot s's finished operation and free the slot."""
    cdef int ret
    # The callback may still be between its stamp and its eventfd write: the slot (and its
    # completion) are reused or freed only once it has returned.
    rados_aio_wait_for_complete_and_cb(s.comp)
    ret = rados_aio_get_return_value(s.comp)
    rados_aio_release(s.comp)
    if ret < 0:
        record_failed(ctl, s.op, -ret, s.intended_ns, s.submit_ns, s.done_ns)
    elif L.verify and s.op == OP_READ and not verify_read(&L.ver, s.buf, <uint64_t>ret, s.obj, s.seq):
        record_failed(ctl, s.op, ERR_VERIFY, s.intended_ns, s.submit_ns, s.done_ns)
    else:
        if L.verify and (s.op == OP_WRITE or s.op == OP_DELETE):
            wrote(&L.ver, s.obj, s.seq if s.op == OP_WRITE else 0)
        record_done(ctl, s.op, s.intended_ns, s.submit_ns, s.done_ns,
                    s.nbytes if s.op == OP_WRITE else (<uint64_t>ret if s.op == OP_READ else 0))
    s.submit_ns = 0
    L.free_slots[L.nfree] = s
    L.nfree += 1


cdef void run_load(Load *L, LoopControl *ctl) noexcept nogil:
    """Until the budget, the deadline or the stop flag (or, deleting only, no object left), and
    every operation completed; a failed submission or poll ends the pass (ctl.result.fatal_errno)."""
    cdef pollfd pfd
    cdef timespec timeout
    cdef uint64_t now, wait, counter
    cdef int i, r
    cdef Slot *s
    pfd.fd = L.slots[0].notify_fd
    pfd.events = POLLIN
    now = now_ns()
    while True:
        if L.delete_only and L.nexisting == 0:
            ctl.submitting = False   # done, not stopped: what still completes is measured
        while may_submit(ctl, now):
            L.nfree -= 1
            s = L.free_slots[L.nfree]
            s.intended_ns = begin_op(ctl, now)
            r = submit(L, s)
            if r:
                # counted as an error; drain, then report
                unsubmit(ctl)
                record_error(&ctl.rec, s.op, r, now_ns())
                L.free_slots[L.nfree] = s
                L.nfree += 1
                ctl.result.fatal_errno = r
                ctl.submitting = False
                start_drain(&ctl.rec, now_ns())
                break
            if L.delete_only and L.nexisting == 0:
                break
            now = now_ns()
        if ctl.result.inflight == 0 and stop_due(ctl, now):
            return
        wait = wait_ns(ctl, now)
        timeout.tv_sec = wait // 1000000000ULL
        timeout.tv_nsec = wait % 1000000000ULL
        r = ppoll(&pfd, 1, &timeout, NULL)
        now = now_ns()
        if r > 0:
            read(pfd.fd, &counter, 8)
            for i in range(L.nslots):
                s = &L.slots[i]
                if s.submit_ns != 0 and load_acquire(&s.done_ns) != 0:
                    reap(L, ctl, s)
        elif r < 0 and errno != EINTR:
            ctl.result.fatal_errno = errno
            return
        if scan_due(ctl, now):
            scan(L, ctl, now)


cdef void scan(Load *L, LoopControl *ctl, uint64_t now) noexcept nogil:
    """Count each op newly past --op-timeout once, and sample the in-flight gauges."""
    cdef int i, op
    cdef int64_t inflight[N_OPS]
    cdef int64_t stalled[N_OPS]
    cdef Slot *s
    for op in range(N_OPS):
        inflight[op] = stalled[op] = 0
    for i in range(L.nslots):
        s = &L.slots[i]
        if s.submit_ns == 0 or load_acquire(&s.done_ns) != 0:
            continue
        inflight[s.op] += 1
        if is_stalled(ctl, s.submit_ns, now):
            stalled[s.op] += 1
            if s.stalled == 0:
                s.stalled = 1
                record_stall(&ctl.rec, s.op, now)
    for op in range(N_OPS):
        note_inflight(ctl, op, inflight[op], stalled[op], now)
