# cython: language_level=3
"""--verify for the Python S3 drivers' whole objects (boto3, s5cmd, mock or a custom driver): the
stamps of _fast/payload.pyx and the check of verify.pxd that the compiled loops use, one call per
op."""
from libc.stdint cimport uint64_t
from libc.string cimport memcpy, memset
from libc.stdlib cimport calloc, free, realloc

from chopsticks._fast.payload cimport (stamp, check_block, STAMP_EVERY, SEQ_WORKER_SHIFT, OBJECT_SHIFT, BLOCK_OK,
                                      BLOCK_CORRUPT)
from chopsticks._fast.verify cimport (Verifier, VERIFY_LOST, init_verifier, free_verifier, wrote, expected,
                                      verify_read, verify_report, _note)


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
