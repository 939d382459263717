from libc.stdint cimport uint64_t

cdef enum:
    PATTERN_RANDOM = 0
    PATTERN_ZERO = 1
    PATTERN_COMPRESSIBLE = 2
    STAMP_EVERY = 4096           # one stamp per 4 KiB block
    STAMP_BYTES = 32             # offset, seq, magic, check: the stamp at the start of each block
    SEQ_WORKER_SHIFT = 44        # seq = worker index << 44 | the worker's write number
    OBJECT_SHIFT = 36            # an object's stamped offset: its index << 36 | the byte in it (under 64 GiB)
    # What check_block finds in a block read back.
    BLOCK_OK = 0
    BLOCK_UNWRITTEN = 1          # no stamp: never written by chopsticks (not checked)
    BLOCK_MISPLACED = 2          # stamped for another offset
    BLOCK_CORRUPT = 3            # the block's bytes do not match its stamp's check value

cdef char *alloc_aligned(size_t size) noexcept nogil
cdef void fill(char *buf, size_t size, int pattern, int compressible_pct, uint64_t seed) noexcept nogil
cdef void stamp(char *buf, size_t size, uint64_t offset, uint64_t seq) noexcept nogil
cdef int check_block(const char *block, size_t n, uint64_t offset, uint64_t *seq) noexcept nogil

cdef inline uint64_t splitmix64(uint64_t *state) noexcept nogil:
    cdef uint64_t z
    state[0] += 0x9E3779B97F4A7C15ULL
    z = state[0]
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)
