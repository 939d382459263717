# cython: language_level=3
"""The engine's own ceiling: every operation 'completes' the moment it is submitted, and is
timed and recorded exactly as a real one (two clock reads, one histogram and time-series update).
In rate mode it sleeps until each operation is due, so the schedule itself can be checked."""
from libc.stdint cimport uint64_t
cimport numpy as cnp

from chopsticks._fast.histogram cimport now_ns
from chopsticks._fast.engine cimport (LoopControl, init_control, may_submit, stop_due, begin_op, wait_ns,
                                     record_done, result_dict)
from chopsticks._fast.iogen cimport IoGen, init_iogen, next_io

cdef extern from "<time.h>" nogil:
    ctypedef int clockid_t
    cdef struct timespec:
        long tv_sec
        long tv_nsec
    int clock_nanosleep(clockid_t clock, int flags, const timespec *request, timespec *remain)
    enum: CLOCK_MONOTONIC
    enum: TIMER_ABSTIME

cdef enum:
    CHECK_EVERY = 1024          # closed loop: how often the deadline is compared with the clock


def run(cnp.uint64_t[::1] hist not None, cnp.int64_t[::1] ts not None,
        cnp.int64_t[::1] errors not None, cnp.int64_t[::1] stop not None, dict spec):
    """Loop until stop[0] != 0, the deadline, or the op budget; returns counters."""
    cdef LoopControl ctl
    cdef IoGen gen
    cdef uint64_t bs = spec["bs"]
    cdef uint64_t t0, t1, offset, now, due
    cdef uint64_t n = 0
    cdef int op
    cdef timespec until
    init_control(&ctl, hist, ts, errors, stop, spec)
    init_iogen(&gen, spec)
    with nogil:
        if ctl.interval_ns == 0.0:
            # Closed loop: the clock is read for the latency anyway; the stop checks are amortised.
            now = now_ns()
            while may_submit(&ctl, now):
                t0 = now_ns()
                begin_op(&ctl, t0)
                op = next_io(&gen, &offset)
                t1 = now_ns()
                record_done(&ctl, op, t0, t0, t1, bs)
                n += 1
                if (n & (CHECK_EVERY - 1)) == 0:
                    now = t1
        else:
            now = now_ns()
            while not stop_due(&ctl, now):
                if may_submit(&ctl, now):
                    t0 = begin_op(&ctl, now)
                    t1 = now_ns()
                    op = next_io(&gen, &offset)
                    record_done(&ctl, op, t0, t1, now_ns(), bs)
                else:
                    due = now + wait_ns(&ctl, now)
                    until.tv_sec = due // 1000000000ULL
                    until.tv_nsec = due % 1000000000ULL
                    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL)
                now = now_ns()
    return result_dict(&ctl)

