# cython: language_level=3
"""The engine's own ceiling: every operation 'completes' the moment it is submitted, and is
timed and recorded exactly as a real one (two clock reads, one histogram and time-series update)."""
from libc.stdint cimport uint64_t, int64_t
cimport numpy as cnp

from chopsticks._fast.histogram cimport Recorder, init_recorder, record_ok, now_ns
from chopsticks._fast.iogen cimport IoGen, init_iogen, next_io


def run(cnp.uint64_t[::1] hist not None, cnp.int64_t[::1] ts not None,
        cnp.int64_t[::1] errors not None, cnp.int64_t[::1] stop not None, dict spec):
    """Loop until stop[0] != 0, the deadline, or the op budget; returns counters."""
    cdef Recorder rec
    cdef IoGen gen
    cdef uint64_t bs = spec["bs"]
    cdef uint64_t deadline_ns = spec["deadline_ns"]
    cdef uint64_t ops_limit = spec["ops_limit"]
    cdef uint64_t done = 0, t0, t1, offset
    cdef int64_t *stop_flag = &stop[0]
    cdef int op
    init_recorder(&rec, hist, ts, errors, spec)
    init_iogen(&gen, spec)
    with nogil:
        while done < ops_limit:
            t0 = now_ns()
            op = next_io(&gen, &offset)
            t1 = now_ns()
            record_ok(&rec, op, t1 - t0, bs, t1)
            done += 1
            if (done & 1023) == 0 and (stop_flag[0] != 0 or t1 >= deadline_ns):
                break
    return {"submitted": done, "completed": done, "inflight_left": 0, "fatal_errno": 0}
