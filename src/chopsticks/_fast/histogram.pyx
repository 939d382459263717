# cython: language_level=3
"""Python access to the bucket constants and the nogil recorder (for merges, tests, benchmarks,
and Python drivers that time their own calls)."""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint64_t, int64_t

cnp.import_array()

# The constants of histogram.pxd, for the Python layers.
CONSTANTS = {
    "sub_bits": SUB_BITS,
    "sub_count": SUB_COUNT,
    "nbuckets": NBUCKETS,
    "ts_fields": TS_FIELDS,
    # Field index of each per-second time-series column, in the order the recorder writes them.
    "ts_field_index": {"ops": TS_OPS, "bytes": TS_BYTES, "errors": TS_ERRORS, "lat_sum_ns": TS_LAT_SUM_NS,
                       "lat_max_ns": TS_LAT_MAX_NS, "stalled": TS_STALLED, "inflight": TS_INFLIGHT},
    "phases": {"ramp": PHASE_RAMP, "measured": PHASE_MEASURED, "drain": PHASE_DRAIN},
    "n_phases": N_PHASES,
    "err_codes": ERR_CODES,
    "err_stalled": ERR_STALLED,
    "err_other": ERR_OTHER,
    "err_verify": ERR_VERIFY,
}


def bucket_lower_bounds():
    """Lower bound (ns, inclusive) of every bucket, as uint64[NBUCKETS]."""
    cdef cnp.ndarray[cnp.uint64_t, ndim=1] out = np.empty(NBUCKETS, dtype=np.uint64)
    cdef int i, e, m
    for i in range(NBUCKETS):
        if i < LINEAR_LIMIT:
            out[i] = i
        else:
            e = (i - LINEAR_LIMIT) // SUB_COUNT + SUB_BITS + 1
            m = (i - LINEAR_LIMIT) % SUB_COUNT + SUB_COUNT
            out[i] = (<uint64_t>m) << (e - SUB_BITS)
    return out


def index_of(uint64_t v):
    """Bucket index of a latency in ns."""
    return bucket_index(v)


def record_values(cnp.uint64_t[::1] hist not None, const cnp.uint64_t[::1] values_ns not None):
    """Add each latency (ns) to a flat histogram of NBUCKETS counts, without the GIL."""
    if hist.shape[0] != NBUCKETS:
        raise ValueError(f"histogram must have {NBUCKETS} buckets")
    cdef Py_ssize_t i, n = values_ns.shape[0]
    with nogil:
        for i in range(n):
            hist[bucket_index(values_ns[i])] += 1


cdef class SlotRecorder:
    """Records timed calls made from Python (Python drivers, scenarios) into a worker's
    shared-memory rows; one C call per completion, no Python objects kept."""
    cdef Recorder r
    cdef object _keep

    def __init__(self, cnp.uint64_t[::1] hist not None, cnp.int64_t[::1] ts not None,
                 cnp.int64_t[::1] errors not None, dict spec not None):
        init_recorder(&self.r, hist, ts, errors, spec)
        self._keep = (hist, ts, errors)

    def ok(self, int op, uint64_t lat_ns, uint64_t nbytes, uint64_t end_ns):
        if op < 0 or op >= self.r.n_ops:
            raise IndexError(op)
        record_ok(&self.r, op, lat_ns, nbytes, end_ns)

    def error(self, int op, int code, uint64_t end_ns):
        if op < 0 or op >= self.r.n_ops:
            raise IndexError(op)
        record_error(&self.r, op, code, end_ns)

    def stall(self, int op, uint64_t now_ns):
        """An op of `op` has been in flight longer than --op-timeout (call once per op)."""
        if op < 0 or op >= self.r.n_ops:
            raise IndexError(op)
        record_stall(&self.r, op, now_ns)

    def gauges(self, int op, int64_t inflight, int64_t stalled, uint64_t now_ns):
        """Ops of `op` in flight now, and how many are older than --op-timeout."""
        if op < 0 or op >= self.r.n_ops:
            raise IndexError(op)
        record_gauges(&self.r, op, inflight, stalled, now_ns)

    def drain(self, uint64_t now_ns):
        """No more submissions since now_ns: what completes from then on is drain, out of the
        measured figures (histogram.pxd start_drain)."""
        start_drain(&self.r, now_ns)
