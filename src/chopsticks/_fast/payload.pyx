# cython: language_level=3
"""Preallocated, aligned payload buffers: filled once per pattern, stamped cheaply per write so
that no two written blocks are identical (defeats dedupe and caching of repeated data)."""
from libc.stdint cimport uint64_t
from libc.string cimport memset, memcpy
from posix.stdlib cimport posix_memalign
from libc.stdlib cimport calloc, free, realloc

from chopsticks._fast.verify cimport (Verifier, VERIFY_LOST, init_verifier, free_verifier, wrote, expected,
                                      verify_read, verify_report, _note)

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
    # independent multiplies over 32-byte strides, which a CPU overlaps (~0.35 µs per 4 KiB; one
    # chain of them cost 1.4 µs on every stamped write), folded into one with the tail.
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


# --verify for the Python drivers' whole objects (bench s3 with boto3, s5cmd, mock or a custom
# driver): the same stamps and the same check (verify.pxd) as the compiled loops, one call per op.

cdef class ObjectVerifier:
    """One worker's writes and reads of whole objects under --verify: stamps each body with the
    object's index (offset = index << OBJECT_SHIFT | byte) and the worker's next write seq,
    remembers each object's last completed write and its size, checks each body read
    (verify.pxd's Verifier, plus its length). Python threads share it: each call runs whole under
    the GIL."""
    cdef Verifier v
    cdef uint64_t *sizes            # per object: bytes of its last completed write
    cdef uint64_t worker
    cdef readonly uint64_t writes   # bodies stamped: the write number of the last one

    def __cinit__(self, uint64_t worker, uint64_t nobjects=1024):
        init_verifier(&self.v, nobjects if nobjects else 1)
        self.sizes = <uint64_t *>calloc(self.v.nkeys, sizeof(uint64_t))
        if self.sizes == NULL:
            raise MemoryError(self.v.nkeys * 8)
        self.worker = worker

    def __dealloc__(self):
        free_verifier(&self.v)
        free(self.sizes)

    def start_from(self, const uint64_t[::1] last_seq not None, const uint64_t[::1] sizes not None, uint64_t writes):
        """Go on from an earlier run's worker (--verify-against), on a verifier that has seen nothing
        yet: its last write seq and size of objects 0 .. n-1; its writes numbered after `writes`."""
        cdef uint64_t n = last_seq.shape[0]
        if <uint64_t>sizes.shape[0] != n:
            raise ValueError(f"{sizes.shape[0]} sizes for {n} objects")
        if n:
            self._grow(n - 1)
            memcpy(self.v.last_seq, &last_seq[0], n * sizeof(uint64_t))
            memcpy(self.sizes, &sizes[0], n * sizeof(uint64_t))
        self.writes = writes

    def record(self, uint64_t count):
        """(last write seq, size) of objects 0 .. count-1, each as bytes of uint64s: the run's verify map."""
        if count:
            self._grow(count - 1)
        return (<char *>self.v.last_seq)[:count * sizeof(uint64_t)], (<char *>self.sizes)[:count * sizeof(uint64_t)]

    def stamp(self, unsigned char[::1] body not None, uint64_t index):
        """Stamp `body` (writable) as the next write of object `index`; returns its seq."""
        self.writes += 1
        cdef uint64_t seq = self.worker << SEQ_WORKER_SHIFT | self.writes
        if body.shape[0]:
            stamp(<char *>&body[0], body.shape[0], index << OBJECT_SHIFT, seq)
        return seq

    def wrote(self, uint64_t index, uint64_t seq, uint64_t size=0):
        """The write of `seq` (`size` bytes) to object `index` completed (seq 0: it was deleted)."""
        self._grow(index)
        wrote(&self.v, index, seq)
        self.sizes[index] = size

    def expected(self, uint64_t index):
        """The seq a read of object `index` started now must find (0: none this worker wrote)."""
        return expected(&self.v, index) if index < self.v.nkeys else 0

    def check(self, const unsigned char[::1] body not None, uint64_t index, uint64_t want):
        """Whether every block of `body`, read from object `index`, passes (failures are noted)."""
        cdef uint64_t n = body.shape[0]
        cdef uint64_t size = self.sizes[index] if want and index < self.v.nkeys else n
        cdef bint ok = True
        if n != size and not self._later_write(body, index, want):
            # Shorter than this worker's last write of it: its tail is lost (a cut at a block's
            # start leaves every block read valid); longer: bytes no write of it had.
            _note(&self.v, (index << OBJECT_SHIFT) + (n if n < size else size),
                  VERIFY_LOST if n < size else BLOCK_CORRUPT, want, 0)
            ok = False
        if n:
            ok = verify_read(&self.v, <const char *>&body[0], n, index << OBJECT_SHIFT, want) and ok
        return ok

    def report(self):
        """verify.pxd's report: blocks checked, unwritten, failed, the first failures (by offset)."""
        return verify_report(&self.v)

    cdef bint _later_write(self, const unsigned char[::1] body, uint64_t index, uint64_t want):
        """Whether body's first block is a valid write of this worker later than `want`: a run
        against the same verify map that kept no map of its own may have rewritten the object,
        at any size of --size."""
        cdef uint64_t n = body.shape[0], found = 0
        if n == 0 or check_block(<const char *>&body[0], n if n < STAMP_EVERY else STAMP_EVERY,
                                 index << OBJECT_SHIFT, &found) != BLOCK_OK:
            return False
        return found >> SEQ_WORKER_SHIFT == want >> SEQ_WORKER_SHIFT and found > want

    cdef int _grow(self, uint64_t index) except -1:
        """Room in the records for object `index` (doubling)."""
        cdef uint64_t old = self.v.nkeys, n = self.v.nkeys
        cdef uint64_t *p
        if index < n:
            return 0
        while n <= index:
            n *= 2
        p = <uint64_t *>realloc(self.sizes, n * sizeof(uint64_t))
        if p == NULL:
            raise MemoryError(n * 8)
        memset(p + old, 0, (n - old) * sizeof(uint64_t))
        self.sizes = p
        p = <uint64_t *>realloc(self.v.last_seq, n * sizeof(uint64_t))
        if p == NULL:
            raise MemoryError(n * 8)
        memset(p + old, 0, (n - old) * sizeof(uint64_t))
        self.v.last_seq, self.v.nkeys = p, n
        return 0
