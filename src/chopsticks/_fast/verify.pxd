# --verify for the loops that stamp what they write (rbd, rados): what this worker wrote where (the
# seq of the last completed write under each key: a bs-block of an image's span, an object), and
# the check of every 4 KiB block read back against its stamp (payload.pxd: offset, seq, magic,
# check value) and against that record.
from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy

from chopsticks._fast.payload cimport (check_block, STAMP_EVERY, SEQ_WORKER_SHIFT, BLOCK_OK, BLOCK_UNWRITTEN,
                                       BLOCK_MISPLACED, BLOCK_CORRUPT)

cdef enum:
    VERIFY_NOTES = 4             # failures described in the result (the rest are counted)
    VERIFY_STALE = 4             # a block older than what this worker last wrote there
    VERIFY_LOST = 5              # no stamp where this worker wrote


cdef struct VerifyNote:
    uint64_t offset
    int kind                     # BLOCK_MISPLACED, BLOCK_CORRUPT, VERIFY_STALE, VERIFY_LOST
    uint64_t expected_seq
    uint64_t found_seq


cdef struct Verifier:
    uint64_t *last_seq           # per key: seq of the last completed write (0: none, or deleted)
    uint64_t nkeys
    uint64_t checked             # 4 KiB blocks (or shorter writes) checked
    uint64_t unwritten           # blocks read that no chopsticks write had stamped (not checked)
    uint64_t failed              # blocks that failed a check
    int n_notes
    VerifyNote notes[VERIFY_NOTES]


cdef inline int init_verifier(Verifier *v, uint64_t nkeys) except -1:
    v.nkeys = nkeys
    v.checked = v.unwritten = v.failed = 0
    v.n_notes = 0
    v.last_seq = <uint64_t *>calloc(nkeys if nkeys else 1, sizeof(uint64_t))
    if v.last_seq == NULL:
        raise MemoryError(nkeys * 8)
    return 0


cdef inline int start_from(Verifier *v, const uint64_t[::1] last_seq) except -1:
    """Continue an earlier run's record (--verify-against): its last write under every key."""
    if <uint64_t>last_seq.shape[0] != v.nkeys:
        raise ValueError(f"the earlier run's map has {last_seq.shape[0]} keys, this worker {v.nkeys}")
    if v.nkeys:
        memcpy(v.last_seq, &last_seq[0], v.nkeys * sizeof(uint64_t))
    return 0


cdef inline bytes map_bytes(Verifier *v):
    """The record (uint64 per key), for the run's verify map."""
    return (<char *>v.last_seq)[:v.nkeys * sizeof(uint64_t)]


cdef inline void free_verifier(Verifier *v) noexcept nogil:
    free(v.last_seq)
    v.last_seq = NULL


cdef inline void wrote(Verifier *v, uint64_t key, uint64_t seq) noexcept nogil:
    """A write of seq under key completed (seq 0: the key was deleted)."""
    v.last_seq[key] = seq


cdef inline uint64_t expected(Verifier *v, uint64_t key) noexcept nogil:
    """What a read submitted now under key must find at least (0: nothing this worker wrote)."""
    return v.last_seq[key]


cdef inline void _note(Verifier *v, uint64_t offset, int kind, uint64_t want, uint64_t found) noexcept nogil:
    v.failed += 1
    if v.n_notes < VERIFY_NOTES:
        v.notes[v.n_notes].offset = offset
        v.notes[v.n_notes].kind = kind
        v.notes[v.n_notes].expected_seq = want
        v.notes[v.n_notes].found_seq = found
        v.n_notes += 1


cdef inline bint verify_read(Verifier *v, const char *buf, uint64_t nbytes, uint64_t offset,
                             uint64_t want) noexcept nogil:
    """Check every block of a successful read of nbytes whose stamps say `offset` (and offset +
    4096 ... for the next blocks); False if any failed.
    A block stamped by this worker must be at least `want` (its last write before the read was
    submitted); a block another worker stamped is checked for place and content only."""
    cdef uint64_t block = 0, n, seq
    cdef int r
    cdef bint ok = True
    while block < nbytes:
        n = STAMP_EVERY if nbytes - block > STAMP_EVERY else nbytes - block
        seq = 0
        r = check_block(buf + block, n, offset + block, &seq)
        if r == BLOCK_UNWRITTEN:
            if want != 0:
                _note(v, offset + block, VERIFY_LOST, want, 0)
                ok = False
            else:
                v.unwritten += 1
        elif r != BLOCK_OK:
            _note(v, offset + block, r, want, seq)
            ok = False
        elif want != 0 and (seq >> SEQ_WORKER_SHIFT) == (want >> SEQ_WORKER_SHIFT) and seq < want:
            _note(v, offset + block, VERIFY_STALE, want, seq)
            ok = False
        else:
            v.checked += 1
        block += STAMP_EVERY
    return ok


cdef inline dict verify_report(Verifier *v):
    names = {BLOCK_MISPLACED: "misplaced", BLOCK_CORRUPT: "corrupt", VERIFY_STALE: "stale", VERIFY_LOST: "lost"}
    return {"checked_blocks": v.checked, "unwritten_blocks": v.unwritten, "failed_blocks": v.failed,
            "first_failures": [{"offset": v.notes[i].offset, "kind": names[v.notes[i].kind],
                                "expected_seq": v.notes[i].expected_seq, "found_seq": v.notes[i].found_seq}
                               for i in range(v.n_notes)]}
