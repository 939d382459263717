"""_fast/object_verifier.pyx ObjectVerifier: --verify for the Python drivers' whole objects, with the
compiled loops' stamps (payload.pxd) and check (verify.pxd)."""
import numpy as np

from chopsticks._fast.object_verifier import ObjectVerifier
from chopsticks._fast.payload import STAMP_LAYOUT, make_payload, read_stamp

SHIFT = STAMP_LAYOUT["seq_worker_shift"]
OBJECT_SHIFT = STAMP_LAYOUT["object_shift"]


def written(ver, index, size=3 * 4096 + 100):
    """A body stamped as the next write of object `index`, its write completed; (body, seq)."""
    body = bytearray(make_payload(size, seed=index))
    seq = ver.stamp(memoryview(body), index)
    ver.wrote(index, seq, size)
    return bytes(body), seq


def test_a_body_is_stamped_with_its_object_and_the_workers_seq_and_reads_back_clean():
    ver = ObjectVerifier(worker=3, nobjects=2)
    body, seq = written(ver, 5)                    # beyond nobjects: the record grows
    assert seq == 3 << SHIFT | 1
    assert read_stamp(body[4096:]) == ((5 << OBJECT_SHIFT) + 4096, seq)
    assert ver.expected(5) == seq and ver.expected(4) == 0 and ver.expected(10_000) == 0
    assert ver.check(body, 5, ver.expected(5))
    report = ver.report()
    assert (report["checked_blocks"], report["failed_blocks"], report["first_failures"]) == (4, 0, [])


def test_failures_are_named_by_object_byte_kind_and_seqs():
    ver = ObjectVerifier(worker=0)
    body, seq = written(ver, 1, size=4096)
    other, other_seq = written(ver, 2, size=4096)
    changed = bytearray(body)
    changed[100] ^= 0xFF
    assert not ver.check(bytes(changed), 1, seq)                  # corrupt
    assert not ver.check(other, 1, seq)                           # object 2's bytes under object 1
    _, newer_seq = written(ver, 1, size=4096)
    assert not ver.check(body[:4096], 1, newer_seq)               # the older write: stale
    assert not ver.check(bytes(4096), 1, newer_seq)               # no stamp where this worker wrote
    assert not ver.check(other, 1, newer_seq)                     # beyond the first four: counted only
    failures = [(*divmod(f["offset"], 1 << OBJECT_SHIFT), f["kind"], f["expected_seq"], f["found_seq"])
                for f in ver.report()["first_failures"]]
    assert failures == [(1, 0, "corrupt", seq, seq), (1, 0, "misplaced", seq, other_seq),
                        (1, 0, "stale", newer_seq, seq), (1, 0, "lost", newer_seq, 0)]
    assert ver.report()["failed_blocks"] == 5 and ver.report()["checked_blocks"] == 0


def test_unstamped_bytes_of_an_object_this_worker_never_wrote_are_unwritten_not_failures():
    ver = ObjectVerifier(worker=1)
    assert ver.check(bytes(10_000), 7, ver.expected(7))
    report = ver.report()
    assert (report["unwritten_blocks"], report["failed_blocks"], report["checked_blocks"]) == (3, 0, 0)


def test_a_deleted_object_expects_nothing_again():
    ver = ObjectVerifier(worker=0)
    _, seq = written(ver, 4)
    assert ver.expected(4) == seq
    ver.wrote(4, 0)
    assert ver.expected(4) == 0 and ver.check(bytes(4096), 4, 0)


def test_a_body_cut_or_grown_at_a_block_boundary_fails_by_its_length():
    ver = ObjectVerifier(worker=0)
    body, seq = written(ver, 3, size=3 * 4096)
    assert not ver.check(body[:8192], 3, seq)                     # its last block gone: every block read is valid
    assert not ver.check(body + body[:4096], 3, seq)              # a block more than was written
    assert not ver.check(b"", 3, seq)
    failures = [(*divmod(f["offset"], 1 << OBJECT_SHIFT), f["kind"]) for f in ver.report()["first_failures"]]
    assert failures == [(3, 8192, "lost"), (3, 3 * 4096, "corrupt"), (3, 4096 * 3, "misplaced"), (3, 0, "lost")]
    assert ver.check(body, 3, seq) and ver.check(b"", 9, 0)       # whole; an object never written


def test_a_verifier_goes_on_from_an_earlier_record_and_numbers_its_writes_after_it():
    earlier = ObjectVerifier(worker=2, nobjects=1)
    body, seq = written(earlier, 3, size=4096)
    last_seq, sizes = (np.frombuffer(b, dtype=np.uint64) for b in earlier.record(5))   # grows to 5
    assert last_seq.tolist() == [0, 0, 0, seq, 0] and sizes.tolist() == [0, 0, 0, 4096, 0]
    ver = ObjectVerifier(worker=2, nobjects=1)
    ver.start_from(last_seq, sizes, earlier.writes)
    assert ver.expected(3) == seq and ver.check(body, 3, seq)
    newer, newer_seq = written(ver, 3, size=8192)
    assert newer_seq == 2 << SHIFT | 2                            # after the earlier run's write 1
    assert not ver.check(body, 3, newer_seq)                      # the earlier run's bytes: stale
    assert [f["kind"] for f in ver.report()["first_failures"]] == ["lost", "stale"]


def test_a_later_write_than_the_one_known_may_have_another_size():
    ver = ObjectVerifier(worker=0)
    body, seq = written(ver, 1, size=4096)
    later = ObjectVerifier(worker=0)
    later.start_from(*(np.frombuffer(b, dtype="<u8") for b in ver.record(2)), ver.writes)
    rewritten, _ = written(later, 1, size=8192)                   # by a run that kept no map of its own
    assert ver.check(rewritten, 1, seq) and ver.report()["checked_blocks"] == 2


def test_the_check_value_notices_a_change_at_every_byte_of_a_block_and_a_swap_of_words():
    """The check value runs four lanes over 32-byte strides, then the tail: a flipped bit in any
    byte after the stamp, in a whole block or a short one, and two words swapped between lanes
    all read as corrupt."""
    from chopsticks._fast.payload import verify_block

    ver = ObjectVerifier(worker=0)
    for size in (4096, 4096 - 32 - 5):             # a whole block; a short one with a tail of 3 words + 3 bytes
        body, _ = written(ver, 7, size=size)
        offset = 7 << OBJECT_SHIFT
        assert verify_block(body, offset)[0] == "ok"
        for byte in range(32, size):
            changed = bytearray(body)
            changed[byte] ^= 0x01
            assert verify_block(bytes(changed), offset)[0] == "corrupt", (size, byte)
        swapped = bytearray(body)
        swapped[32:40], swapped[40:48] = body[40:48], body[32:40]
        assert verify_block(bytes(swapped), offset)[0] == "corrupt"
