# Where the next operation goes: sequential or random offsets over a span, reads/writes mixed by
# percentage. Shared by every block-style loop (rbd, null); no allocation, no syscalls.
from libc.stdint cimport uint64_t
from chopsticks._fast.payload cimport splitmix64

cdef enum:
    OP_READ = 0
    OP_WRITE = 1
    RW_READ = 0
    RW_WRITE = 1
    RW_RANDREAD = 2
    RW_RANDWRITE = 3
    RW_RANDRW = 4
    RW_RW = 5                    # sequential mixed
    RW_VERIFY = 6                # write the span once in order, then read it all back (fio's do_verify)

cdef struct IoGen:
    uint64_t rng
    uint64_t bs
    uint64_t start               # first byte of this worker's span
    uint64_t nblocks             # blocks of bs in the span
    uint64_t next_block          # sequential cursor
    int rw
    int read_pct
    int passes                   # RW_VERIFY: whole passes over the span done (0: writing, 1: reading)


cdef inline int next_io(IoGen *g, uint64_t *offset) noexcept nogil:
    cdef uint64_t block
    cdef int op
    if g.rw == RW_VERIFY:
        op = OP_WRITE if g.passes == 0 else OP_READ
    elif g.rw == RW_READ or g.rw == RW_RANDREAD:
        op = OP_READ
    elif g.rw == RW_WRITE or g.rw == RW_RANDWRITE:
        op = OP_WRITE
    else:
        op = OP_READ if <int>(splitmix64(&g.rng) % 100) < g.read_pct else OP_WRITE
    if g.rw == RW_RANDREAD or g.rw == RW_RANDWRITE or g.rw == RW_RANDRW:
        block = splitmix64(&g.rng) % g.nblocks
    else:
        block = g.next_block
        g.next_block += 1
        if g.next_block >= g.nblocks:
            g.next_block = 0
            g.passes += 1
    offset[0] = g.start + block * g.bs
    return op


cdef inline int init_iogen(IoGen *g, dict spec) except -1:
    """Fill g from the loop's spec (seed, bs, span_start, span_bytes, rw, read_pct)."""
    g.rng = spec["seed"]
    g.bs = spec["bs"]
    g.start = spec["span_start"]
    g.nblocks = spec["span_bytes"] // g.bs
    g.next_block = 0
    g.rw = spec["rw"]
    g.read_pct = spec["read_pct"]
    g.passes = 0
    return 0
