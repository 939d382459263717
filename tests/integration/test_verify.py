"""--verify (issue #14): every block read is checked against its stamp (offset, check value) and
against what the run wrote there; blocks changed behind chopsticks' back are caught and named."""
import pytest

from chopsticks._fast.payload import verify_block
from chopsticks.ceph import import_ceph_module
from helpers.engine_cli import bench, blocks_checked, load_json

pytestmark = pytest.mark.ceph
IMAGE = "verify"
SPAN = 4 << 20


def image_io(lab):
    rados, rbd = import_ceph_module("rados"), import_ceph_module("rbd")
    cluster = rados.Rados(conffile=str(lab.conf), conf={"keyring": str(lab.keyring)})
    cluster.connect()
    ioctx = cluster.open_ioctx(lab.pool)
    return cluster, ioctx, rbd.Image(ioctx, IMAGE)


def run(lab, tmp_path, *args, name="r.json"):
    out = tmp_path / name
    r = bench("rbd", "--conf", lab.conf, "--keyring", lab.keyring, "--pool", lab.pool, "--image", IMAGE,
              "--create", "16M", "--procs", 2, "--iodepth", 4, "--span", SPAN, "--quiet", "--no-save",
              "--json", out, *args)
    return r, load_json(out) if out.exists() else None


def reports(doc):
    return [w["message"] for w in doc["workers"]]


def test_write_then_verify_and_a_second_run_verifies_clean(lab, tmp_path):
    r, doc = run(lab, tmp_path, "--rw", "verify")
    assert r.returncode == 0, r.stdout + r.stderr
    rows = {row["op"]: row for row in doc["summary"]}
    assert rows["write"]["ops"] == rows["read"]["ops"] == SPAN // 4096     # one pass each, over the slices
    assert all("0 failed" in m and "0 never written" in m for m in reports(doc)), reports(doc)
    assert sum(blocks_checked(m) for m in reports(doc)) == SPAN // 4096
    # A later run reading the same range with --verify finds every block as written.
    r, doc = run(lab, tmp_path, "--rw", "randread", "--verify", "-t", "2s", name="again.json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert doc["errors_by_kind"] == {} and all(" 0 failed" in m for m in reports(doc))


def test_blocks_changed_behind_its_back_are_caught_and_named(lab, tmp_path):
    r, _ = run(lab, tmp_path, "--rw", "verify")
    assert r.returncode == 0, r.stdout + r.stderr
    cluster, ioctx, img = image_io(lab)
    try:
        img.write(b"\xff" * 16, 5 * 4096 + 100)                   # bytes after the stamp: corrupt
        moved = img.read(7 * 4096, 4096)
        img.write(moved, 9 * 4096)                                # a block stamped for another offset
        img.write(bytes(4096), 11 * 4096)                         # no stamp at all: never written
        assert verify_block(img.read(5 * 4096, 4096), 5 * 4096)[0] == "corrupt"
    finally:
        img.close()
        ioctx.close()
        cluster.shutdown()
    r, doc = run(lab, tmp_path, "--rw", "read", "--verify", "--io-total", SPAN, name="check.json")
    assert r.returncode == 4, r.stdout + r.stderr                  # verify failures are op errors
    assert doc["errors_by_kind"] == {"read": {"verify": 2}}
    text = " ".join(reports(doc))
    assert f"corrupt at offset {5 * 4096}" in text and f"misplaced at offset {9 * 4096}" in text
    assert "1 never written by chopsticks" in text
    assert "verify 2" in r.stdout


def test_rados_objects_are_verified_and_a_changed_object_is_caught(lab, tmp_path):
    """bench rados --verify: every object read is checked against its stamps; bytes changed
    behind chopsticks' back in the middle of a run make its next reads fail as corrupt."""
    import threading
    import time

    from helpers.engine_cli import start_bench

    rados = import_ceph_module("rados")
    out = tmp_path / "rados.json"
    proc = start_bench("rados", "--conf", lab.conf, "--keyring", lab.keyring, "--pool", lab.pool,
                       "--prefix", "verify", "--op", "mixed", "--mix", "write=2,read=98", "--objects", 1,
                       "--procs", 1, "--iodepth", 1, "--verify", "--duration", "5s", "--no-watch-cluster",
                       "--quiet", "--no-save", "--json", out)
    time.sleep(3.5)                                           # past start-up and prefill, into the run
    with rados.Rados(conffile=str(lab.conf), conf={"keyring": str(lab.keyring)}) as cluster:
        with cluster.open_ioctx(lab.pool) as ioctx:
            ioctx.write("verify.0.0", b"\xff" * 16, 100)    # bytes after the first block's stamp
    stdout, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 4, stdout + stderr
    doc = load_json(out)
    assert doc["errors_by_kind"]["read"]["verify"] >= 1
    message = doc["workers"][0]["message"]
    assert "corrupt at offset 0" in message and " 0 never written" in message
    assert blocks_checked(message) > 100
