# cython: language_level=3
"""Preallocated, aligned payload buffers: filled once per pattern, stamped cheaply per write so
that no two written blocks are identical (defeats dedupe and caching of repeated data)."""
from libc.stdint cimport uint64_t
from libc.string cimport memset, memcpy
from posix.stdlib cimport posix_memalign
from libc.stdlib cimport free

PATTERNS = {"random": PATTERN_RANDOM, "zero": PATTERN_ZERO, "compressible": PATTERN_COMPRESSIBLE}
cdef uint64_t STAMP_MAGIC_C = 0x6b63697473706f68ULL  # b"hopstick" little-endian: marks a stamped block
STAMP_MAGIC = STAMP_MAGIC_C


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
    # Bytes 0..8: device offset of the block; 8..16: a per-worker write sequence number;
    # 16..24: magic. Only the first 24 bytes of every 4 KiB block change.
    cdef size_t block = 0
    cdef uint64_t off
    cdef uint64_t magic = STAMP_MAGIC_C
    while block + 24 <= size:
        off = offset + block
        memcpy(buf + block, &off, 8)
        memcpy(buf + block + 8, &seq, 8)
        memcpy(buf + block + 16, &magic, 8)
        block += STAMP_EVERY


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


def read_stamp(const unsigned char[:] block):
    """(offset, seq) stamped at the start of a 4 KiB block, or None if the block is not stamped."""
    cdef uint64_t off, seq, magic
    if block.shape[0] < 24:
        return None
    memcpy(&off, &block[0], 8)
    memcpy(&seq, &block[8], 8)
    memcpy(&magic, &block[16], 8)
    if magic != STAMP_MAGIC_C:
        return None
    return off, seq
