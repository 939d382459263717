# The one definition of the latency histogram's buckets and of how a worker records a completion
# into its shared-memory rows. chopsticks.metrics.histogram derives every bucket bound from here
# (through histogram.pyx), so the nogil recorder and the numpy merge cannot disagree.
#
# Buckets are log-linear over nanoseconds (HDR-style): values below 2*SUB_COUNT ns are exact;
# above, each power of two is split into SUB_COUNT equal buckets, so a bucket's width is at most
# 1/SUB_COUNT (0.78 %) of its lower bound. The last bucket, past 2**MAX_EXP ns (~18 min),
# collects everything longer.
from libc.stdint cimport uint64_t, int64_t
cimport numpy as cnp

cdef enum:
    SUB_BITS = 7
    SUB_COUNT = 128              # 1 << SUB_BITS
    LINEAR_LIMIT = 256           # 2 * SUB_COUNT: values below are their own bucket
    MAX_EXP = 40                 # 2**40 ns = 1099 s
    NBUCKETS = 4352              # LINEAR_LIMIT + (MAX_EXP - SUB_BITS - 1) * SUB_COUNT
    # Per-second time-series fields, per op (engine/shm.py names them).
    TS_OPS = 0
    TS_BYTES = 1
    TS_ERRORS = 2
    TS_LAT_SUM_NS = 3
    TS_LAT_MAX_NS = 4
    TS_STALLED = 5               # gauge: ops in flight longer than --op-timeout (max over the second)
    TS_INFLIGHT = 6              # gauge: ops in flight (max over the second)
    TS_FIELDS = 7
    # Phases of a completion: before --ramp ends, measured, or after the deadline/stop (drain).
    PHASE_RAMP = 0
    PHASE_MEASURED = 1
    PHASE_DRAIN = 2
    N_PHASES = 3
    ERR_CODES = 1024             # per-op error counters, indexed by a backend-defined code
    ERR_STALLED = 1023           # an op older than --op-timeout (counted once, when first seen)
    ERR_OTHER = 1022             # a code outside 1..1020
    ERR_VERIFY = 1021            # --verify: a block read back did not match what was written


cdef inline int bucket_index(uint64_t v) noexcept nogil:
    cdef int e
    if v < LINEAR_LIMIT:
        return <int>v
    e = 63 - __builtin_clzll(v)
    if e >= MAX_EXP:
        return NBUCKETS - 1
    return LINEAR_LIMIT + (e - SUB_BITS - 1) * SUB_COUNT + <int>((v >> (e - SUB_BITS)) - SUB_COUNT)


cdef extern from *:
    int __builtin_clzll(unsigned long long) nogil


# Pointers into one worker's rows of shared memory (layout: chopsticks.engine.shm).
cdef struct Recorder:
    uint64_t *hist        # [N_PHASES][n_ops][NBUCKETS]
    int64_t *ts           # [max_secs][n_ops][TS_FIELDS]
    int64_t *errors       # [N_PHASES][n_ops][ERR_CODES]
    int n_ops
    int64_t max_secs
    uint64_t start_ns
    uint64_t ramp_end_ns
    uint64_t drain_ns     # completions stamped from here on are drain: the deadline, or earlier (start_drain)


cdef inline int init_recorder(Recorder *r, cnp.uint64_t[::1] hist, cnp.int64_t[::1] ts,
                              cnp.int64_t[::1] errors, dict spec) except -1:
    """Point r at one worker's rows; spec carries n_ops, start_ns, ramp_end_ns and deadline_ns."""
    cdef int n_ops = spec["n_ops"]
    if hist.shape[0] != N_PHASES * n_ops * NBUCKETS or errors.shape[0] != N_PHASES * n_ops * ERR_CODES \
            or ts.shape[0] == 0 or ts.shape[0] % (n_ops * TS_FIELDS) != 0:
        raise ValueError("shared-memory rows do not match n_ops")
    r.hist = &hist[0]
    r.ts = &ts[0]
    r.errors = &errors[0]
    r.n_ops = n_ops
    r.max_secs = ts.shape[0] // (n_ops * TS_FIELDS)
    r.start_ns = spec["start_ns"]
    r.ramp_end_ns = spec["ramp_end_ns"]
    r.drain_ns = spec["deadline_ns"]
    return 0


cdef inline void start_drain(Recorder *r, uint64_t now_ns) noexcept nogil:
    """The loop stopped submitting, noticing the deadline or the stop at now_ns: completions
    stamped from then on (from the deadline, if it came first) are drain. One stamped before and
    reaped after is still measured, in the histogram as in its second of the time series."""
    if now_ns < r.drain_ns:
        r.drain_ns = now_ns


cdef inline int phase_of(Recorder *r, uint64_t now_ns) noexcept nogil:
    if now_ns >= r.drain_ns:
        return PHASE_DRAIN
    return PHASE_MEASURED if now_ns >= r.ramp_end_ns else PHASE_RAMP


cdef inline int _second(Recorder *r, uint64_t now_ns) noexcept nogil:
    cdef int64_t sec = <int64_t>((now_ns - r.start_ns) // 1000000000ULL) if now_ns > r.start_ns else 0
    return <int>(sec if sec < r.max_secs else r.max_secs - 1)


cdef inline void record_ok(Recorder *r, int op, uint64_t lat_ns, uint64_t nbytes, uint64_t now_ns) noexcept nogil:
    cdef int64_t *row
    cdef int phase = phase_of(r, now_ns)
    r.hist[(phase * r.n_ops + op) * NBUCKETS + bucket_index(lat_ns)] += 1
    row = r.ts + (<int64_t>_second(r, now_ns) * r.n_ops + op) * TS_FIELDS
    row[TS_OPS] += 1
    row[TS_BYTES] += <int64_t>nbytes
    row[TS_LAT_SUM_NS] += <int64_t>lat_ns
    if <int64_t>lat_ns > row[TS_LAT_MAX_NS]:
        row[TS_LAT_MAX_NS] = <int64_t>lat_ns


cdef inline void record_error(Recorder *r, int op, int code, uint64_t now_ns) noexcept nogil:
    cdef int phase = phase_of(r, now_ns)
    if code <= 0 or code >= ERR_CODES:
        code = ERR_OTHER
    r.errors[(phase * r.n_ops + op) * ERR_CODES + code] += 1
    r.ts[(<int64_t>_second(r, now_ns) * r.n_ops + op) * TS_FIELDS + TS_ERRORS] += 1


cdef inline void record_stall(Recorder *r, int op, uint64_t now_ns) noexcept nogil:
    # An op older than --op-timeout: noted once; it still completes (ok or error) later.
    r.errors[(phase_of(r, now_ns) * r.n_ops + op) * ERR_CODES + ERR_STALLED] += 1


cdef inline void record_gauges(Recorder *r, int op, int64_t inflight, int64_t stalled, uint64_t now_ns) noexcept nogil:
    # Ops of `op` in flight now, and how many of them are older than --op-timeout: the second's
    # row keeps the largest values seen (loops sample every ~100 ms).
    cdef int64_t *row = r.ts + (<int64_t>_second(r, now_ns) * r.n_ops + op) * TS_FIELDS
    if inflight > row[TS_INFLIGHT]:
        row[TS_INFLIGHT] = inflight
    if stalled > row[TS_STALLED]:
        row[TS_STALLED] = stalled


cdef extern from "<time.h>" nogil:
    ctypedef int clockid_t
    cdef struct timespec:
        long tv_sec
        long tv_nsec
    int clock_gettime(clockid_t, timespec *)
    enum: CLOCK_MONOTONIC


cdef inline uint64_t now_ns() noexcept nogil:
    cdef timespec t
    clock_gettime(CLOCK_MONOTONIC, &t)
    return <uint64_t>t.tv_sec * 1000000000ULL + <uint64_t>t.tv_nsec
