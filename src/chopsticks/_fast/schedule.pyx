# cython: language_level=3
"""Rate mode's schedule for Python callers (the Python-driver S3 threads, checks): the same
intended starts a compiled loop follows (_fast/engine.pxd), one after another."""
from libc.stdint cimport uint64_t

from chopsticks._fast.engine cimport LoopControl, start_schedule, begin_op
from chopsticks._fast.engine cimport precise_timed_waits as _precise_timed_waits


cdef class Schedule:
    """Intended starts at `rate` ops/s (uniform or Poisson gaps, from `seed`) from first_due_ns on."""
    cdef LoopControl ctl

    def __init__(self, double rate, int arrivals, uint64_t seed, double first_due_ns=0.0):
        if rate <= 0:
            raise ValueError("a schedule needs a rate above 0")
        start_schedule(&self.ctl, rate, arrivals, seed, first_due_ns)
        self.ctl.budget = <uint64_t>-1
        self.ctl.result.submitted = self.ctl.result.inflight = 0

    def next(self) -> int:
        """The next intended start (CLOCK_MONOTONIC ns, or ns from 0)."""
        return begin_op(&self.ctl, 0)


def precise_timed_waits():
    """Make the calling thread's timed waits end on time (a Python thread that waits for intended
    starts; the compiled loops do it themselves): see _fast/engine.pxd."""
    _precise_timed_waits()


def intended_starts(double rate, int arrivals, uint64_t seed, int n):
    """The first n intended starts (ns from 0), as float64: the schedule itself, for checks of its
    rate and of its gaps' distribution."""
    import numpy as np
    cdef Schedule s = Schedule(rate, arrivals, seed)
    return np.array([s.next() for _ in range(n)], dtype=np.float64)
