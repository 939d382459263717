# A loop's op mix (bench rados; bench s3 --driver native): ops with weights, one op drawn per
# operation from the loop's own random stream. Filled from [(op index, weight)] before a pass.
from libc.stdint cimport uint64_t

from chopsticks._fast.payload cimport splitmix64

cdef enum:
    MIX_MAX_OPS = 8


cdef struct Mix:
    int n
    int op[MIX_MAX_OPS]
    uint64_t upto[MIX_MAX_OPS]       # cumulative weights
    uint64_t total


cdef inline int set_mix(Mix *m, list mix, int n_ops) except -1:
    """m from [(op index, weight)] of a loop with n_ops operations; ValueError for an empty or too
    long mix, an op out of range, or weights adding up to 0."""
    cdef int i
    if not 0 < len(mix) <= min(n_ops, MIX_MAX_OPS):
        raise ValueError(f"mix needs 1 to {n_ops} operations")
    m.n, m.total = len(mix), 0
    for i, (op, weight) in enumerate(mix):
        if not 0 <= op < n_ops:
            raise ValueError(f"no op {op}")
        m.total += weight
        m.op[i], m.upto[i] = op, m.total
    if m.total == 0:
        raise ValueError("mix weights add up to 0")
    return 0


cdef inline int pick_op(Mix *m, uint64_t *rng) noexcept nogil:
    """The next operation's op, by weight (a one-op mix draws nothing from rng)."""
    cdef uint64_t x
    cdef int i
    if m.n == 1:
        return m.op[0]
    x = splitmix64(rng) % m.total
    for i in range(m.n):
        if x < m.upto[i]:
            return m.op[i]
    return m.op[m.n - 1]
