# cython: language_level=3
"""Preallocated, aligned payload buffers: filled once per pattern, stamped cheaply per write so
that no two written blocks are identical (defeats dedupe and caching of repeated data), and the
check of one stamped block read back (verify.pxd checks whole reads with it)."""
from libc.stdint cimport uint64_t
from libc.string cimport memset, memcpy
from posix.stdlib cimport posix_memalign
from libc.stdlib cimport free

PATTERNS = {"random": PATTERN_RANDOM, "zero": PATTERN_ZERO, "compressible": PATTERN_COMPRESSIBLE}
cdef uint64_t STAMP_MAGIC_C = 0x336b697473706f68ULL  # b"hopstik3" little-endian: marks a stamped block
# (the 3 is the stamp's format: blocks stamped by a chopsticks whose check value differs read as unwritten)
STAMP_MAGIC = STAMP_MAGIC_C
# The stamp's layout (payload.pxd), for the Python layers.
STAMP_LAYOUT = {"bytes": STAMP_BYTES, "every": STAMP_EVERY, "seq_worker_shift": SEQ_WORKER_SHIFT,
                "object_shift": OBJECT_SHIFT}


cdef char *alloc_aligned(size_t size) noexcept nogil:
    cdef void *p = NULL
    if posix_memalign(&p, 4096, size if size > 0 else 1) != 0:
        return NULL
    return <char *>p


cdef void fill(char *buf, size_t size, int pattern, int compressible_pct, uint64_t seed) noexcept nogil:
    cdef uint64_t state = seed
    cdef uint64_t v
    cdef size_t i, block, n, zero_bytes
    if pattern == PATTERN_ZERO:
        memset(buf, 0, size)
        return
    i = 0
    while i + 8 <= size:
        v = splitmix64(&state)
        memcpy(buf + i, &v, 8)
        i += 8
    while i < size:
        buf[i] = <char>(splitmix64(&state) & 0xff)
        i += 1
    if pattern == PATTERN_COMPRESSIBLE:
        # The tail compressible_pct % of every 4 KiB block is zero.
        block = 0
        while block < size:
            n = STAMP_EVERY if size - block > STAMP_EVERY else size - block
            zero_bytes = n * <size_t>compressible_pct // 100
            memset(buf + block + n - zero_bytes, 0, zero_bytes)
            block += STAMP_EVERY


cdef void stamp(char *buf, size_t size, uint64_t offset, uint64_t seq) noexcept nogil:
    # At the start of every 4 KiB block of a write (and of a shorter write): bytes 0..8 its
    # device offset, 8..16 the write's seq (worker << SEQ_WORKER_SHIFT | write number), 16..24
    # the magic, 24..32 a check value of the block's other bytes, so a read can tell a block
    # that was corrupted, misplaced or never written. Only these 32 bytes change per write.
    cdef size_t block = 0, n
    cdef uint64_t off, check
    cdef uint64_t magic = STAMP_MAGIC_C
    while block + STAMP_BYTES <= size:
        n = STAMP_EVERY if size - block > STAMP_EVERY else size - block
        off = offset + block
        check = _check_value(buf + block + STAMP_BYTES, n - STAMP_BYTES, off, seq)
        memcpy(buf + block, &off, 8)
        memcpy(buf + block + 8, &seq, 8)
        memcpy(buf + block + 16, &magic, 8)
        memcpy(buf + block + 24, &check, 8)
        block += STAMP_EVERY


cdef inline uint64_t _mix(uint64_t h, uint64_t w) noexcept nogil:
    h = (h ^ w) * 0xBF58476D1CE4E5B9ULL
    return h ^ (h >> 29)


cdef inline uint64_t _check_value(const char *p, size_t n, uint64_t offset, uint64_t seq) noexcept nogil:
    # A 64-bit multiply-xor hash of the block's bytes after the stamp, seeded with its offset,
    # seq and length: not cryptographic, it only has to notice changed bytes. Four lanes of
    # independent multiplies over 32-byte strides, which a CPU overlaps (~0.4 µs per 4 KiB, where one
    # chain of them took 1.1 µs on every stamped write), folded into one with the tail.
    cdef uint64_t h = offset * 0x9E3779B97F4A7C15ULL ^ seq ^ n
    cdef uint64_t a = h ^ 0xD6E8FEB86659FD93ULL, b = h ^ 0xA0761D6478BD642FULL
    cdef uint64_t c = h ^ 0xE7037ED1A0B428DBULL, d = h ^ 0x8EBC6AF09C88C6E3ULL
    cdef uint64_t w
    cdef size_t i = 0
    while i + 32 <= n:
        memcpy(&w, p + i, 8)
        a = _mix(a, w)
        memcpy(&w, p + i + 8, 8)
        b = _mix(b, w)
        memcpy(&w, p + i + 16, 8)
        c = _mix(c, w)
        memcpy(&w, p + i + 24, 8)
        d = _mix(d, w)
        i += 32
    h = _mix(_mix(_mix(_mix(h, a), b), c), d)
    while i + 8 <= n:
        memcpy(&w, p + i, 8)
        h = _mix(h, w)
        i += 8
    while i < n:
        h = (h ^ <unsigned char>p[i]) * 0x94D049BB133111EBULL
        i += 1
    return h ^ (h >> 31)


cdef int check_block(const char *block, size_t n, uint64_t offset, uint64_t *seq) noexcept nogil:
    """Check one block of n bytes read at `offset` (BLOCK_* result); its stamp's seq in seq[0]."""
    cdef uint64_t off, magic, check
    if n < STAMP_BYTES:
        return BLOCK_UNWRITTEN
    memcpy(&magic, block + 16, 8)
    if magic != STAMP_MAGIC_C:
        return BLOCK_UNWRITTEN
    memcpy(&off, block, 8)
    memcpy(seq, block + 8, 8)
    memcpy(&check, block + 24, 8)
    if off != offset:
        return BLOCK_MISPLACED
    if check != _check_value(block + STAMP_BYTES, n - STAMP_BYTES, off, seq[0]):
        return BLOCK_CORRUPT
    return BLOCK_OK


def make_payload(size_t size, str pattern="random", int compressible_pct=50, uint64_t seed=1):
    """A payload of `size` bytes in the given pattern (bytes; for Python drivers and tests)."""
    if pattern not in PATTERNS:
        raise ValueError(f"unknown pattern {pattern!r}")
    cdef char *buf = alloc_aligned(size)
    if buf == NULL:
        raise MemoryError(size)
    try:
        fill(buf, size, PATTERNS[pattern], compressible_pct, seed)
        return buf[:size]
    finally:
        free(buf)


BLOCK_RESULTS = {BLOCK_OK: "ok", BLOCK_UNWRITTEN: "unwritten", BLOCK_MISPLACED: "misplaced", BLOCK_CORRUPT: "corrupt"}


def verify_block(const unsigned char[:] block, uint64_t offset):
    """What check_block finds in `block` read at `offset`: ('ok'|'unwritten'|'misplaced'|'corrupt', seq)."""
    cdef uint64_t seq = 0
    cdef int r = check_block(<const char *>&block[0], block.shape[0], offset, &seq) if block.shape[0] else BLOCK_UNWRITTEN
    return BLOCK_RESULTS[r], seq


def read_stamp(const unsigned char[:] block):
    """(offset, seq) stamped at the start of a 4 KiB block, or None if the block is not stamped."""
    cdef uint64_t off, seq, magic
    if block.shape[0] < STAMP_BYTES:
        return None
    memcpy(&off, &block[0], 8)
    memcpy(&seq, &block[8], 8)
    memcpy(&magic, &block[16], 8)
    if magic != STAMP_MAGIC_C:
        return None
    return off, seq
