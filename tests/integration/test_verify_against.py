"""--verify-against (issue #14): a run goes on from an earlier run's verify map (kept beside its JSON
result), so its reads also catch what --verify alone cannot: a block holding an older, valid write
than the earlier run's last one there (stale)."""
import contextlib
import uuid

import pytest

from chopsticks.ceph import import_ceph_module
from helpers.engine_cli import bench, checked_blocks, load_json

pytestmark = pytest.mark.ceph
SPAN = 8 << 20
BLOCKS = SPAN // 4096
STALE_OFFSET = 5 * 4096                 # in worker 0's slice: its 6th write of each pass
OBJECTS = 8


@pytest.fixture
def image(lab):
    """A fresh image name, removed at the end (other runs may share the lab)."""
    name = f"verify-against-{uuid.uuid4().hex[:8]}"
    yield name
    rados, rbd = import_ceph_module("rados"), import_ceph_module("rbd")
    with rados.Rados(conffile=str(lab.conf), conf={"keyring": str(lab.keyring)}) as cluster:
        with cluster.open_ioctx(lab.pool) as ioctx:
            try:
                rbd.RBD().remove(ioctx, name)
            except rbd.ImageNotFound:
                pass


def rbd_run(lab, image, tmp_path, name, *args, keep=("--no-save",)):
    out = tmp_path / name
    r = bench("rbd", "--conf", lab.conf, "--keyring", lab.keyring, "--pool", lab.pool, "--image", image,
              "--create", "16M", "--procs", 2, "--iodepth", 4, "--span", SPAN, "--io-total", SPAN,
              "--no-watch-cluster", "--quiet", *keep, "--json", out, *args)
    return r, load_json(out) if out.exists() else None


@contextlib.contextmanager
def lab_image(lab, image):
    """The image through python3-rbd, behind chopsticks' back."""
    rados, rbd = import_ceph_module("rados"), import_ceph_module("rbd")
    with rados.Rados(conffile=str(lab.conf), conf={"keyring": str(lab.keyring)}) as cluster:
        with cluster.open_ioctx(lab.pool) as ioctx, rbd.Image(ioctx, image) as img:
            yield img


def test_a_run_reads_clean_against_the_run_that_wrote(lab, image, tmp_path):
    r, _ = rbd_run(lab, image, tmp_path, "w.json", "--rw", "write", "--verify", keep=("--results-dir", tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "w.verify.npz").is_file() and f"wrote {tmp_path / 'w.verify.npz'}, " in r.stdout
    [run_dir_map] = tmp_path.glob("*-bench-rbd/result.verify.npz")      # the run directory's too
    r, doc = rbd_run(lab, image, tmp_path, "r.json", "--rw", "read",
                     "--verify-against", run_dir_map.parent / "result.json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert doc["errors_by_kind"] == {} and checked_blocks(doc) == BLOCKS
    assert all(" 0 never written" in w["message"] and " 0 failed" in w["message"] for w in doc["workers"])
    assert not (tmp_path / "r.verify.npz").exists()         # a run that only reads keeps no map


def test_a_lost_write_is_found_stale_where_plain_verify_finds_nothing(lab, image, tmp_path):
    r, _ = rbd_run(lab, image, tmp_path, "1.json", "--rw", "write", "--verify")
    assert r.returncode == 0, r.stdout + r.stderr
    with lab_image(lab, image) as img:
        old = img.read(STALE_OFFSET, 4096)
        r, _ = rbd_run(lab, image, tmp_path, "2.json", "--rw", "write", "--verify-against", tmp_path / "1.json")
        assert r.returncode == 0, r.stdout + r.stderr
        img.write(old, STALE_OFFSET)                        # the second run's write there is lost
    r, doc = rbd_run(lab, image, tmp_path, "3.json", "--rw", "read", "--verify-against", tmp_path / "2.json")
    assert r.returncode == 4, r.stdout + r.stderr
    assert doc["errors_by_kind"] == {"read": {"verify": 1}}
    # Worker 0 wrote block 5 as its write 6 in the first run and 1024 + 6 in the second.
    assert f"stale at offset {STALE_OFFSET} (expected write w0#1030, found w0#6)" in doc["workers"][0]["message"]
    assert checked_blocks(doc) == BLOCKS - 1
    r, doc = rbd_run(lab, image, tmp_path, "4.json", "--rw", "read", "--verify")
    assert r.returncode == 0 and doc["errors_by_kind"] == {}, r.stdout + r.stderr


def test_a_block_the_earlier_run_wrote_without_a_stamp_is_lost(lab, image, tmp_path):
    r, _ = rbd_run(lab, image, tmp_path, "1.json", "--rw", "write", "--verify")
    assert r.returncode == 0, r.stdout + r.stderr
    with lab_image(lab, image) as img:
        img.write(bytes(4096), SPAN - 4096)                 # worker 1's last block: zeroes, no stamp
    r, doc = rbd_run(lab, image, tmp_path, "2.json", "--rw", "read", "--verify-against", tmp_path / "1.json")
    assert r.returncode == 4 and doc["errors_by_kind"] == {"read": {"verify": 1}}, r.stdout + r.stderr
    assert f"lost at offset {SPAN - 4096} (expected write w1#1024, found -)" in doc["workers"][1]["message"]
    r, doc = rbd_run(lab, image, tmp_path, "3.json", "--rw", "read", "--verify")     # to it, never written
    assert r.returncode == 0 and "1 never written" in doc["workers"][1]["message"], r.stdout + r.stderr


@pytest.mark.parametrize("change, option", [(("--bs", "8k"), "--bs"), (("--seed", "2"), "--seed"),
                                            (("--procs", "1"), "--procs")])
def test_a_run_unlike_the_earlier_one_is_refused_before_any_load(lab, image, tmp_path, change, option):
    r, _ = rbd_run(lab, image, tmp_path, "1.json", "--rw", "write", "--verify")
    assert r.returncode == 0, r.stdout + r.stderr
    r, doc = rbd_run(lab, image, tmp_path, "2.json", "--rw", "read", "--verify-against", tmp_path / "1.json", *change)
    assert r.returncode == 1 and doc is None, r.stdout + r.stderr
    assert r.stderr.startswith("chopsticks: error: --verify-against: ") and r.stderr.count("\n") == 1, r.stderr
    assert f" {option} differs" in r.stderr and "ops" not in r.stdout


def test_a_cluster_run_cannot_verify_against_a_map_on_this_host(tmp_path):
    r = bench("rbd", "--conf", tmp_path / "ceph.conf", "--cluster", "local:1", "--verify-against", tmp_path / "r.json")
    assert r.returncode == 2 and "leave out --cluster" in r.stderr, r.stdout + r.stderr


def test_a_run_without_a_map_is_refused(lab, image, tmp_path):
    r, _ = rbd_run(lab, image, tmp_path, "1.json", "--rw", "write")          # no --verify: no map
    assert r.returncode == 0, r.stdout + r.stderr
    r, _ = rbd_run(lab, image, tmp_path, "2.json", "--rw", "read", "--verify-against", tmp_path / "1.json")
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert f"no verify map {tmp_path / '1.verify.npz'}" in r.stderr


def rados_runner(lab, tmp_path):
    prefix = f"va-{uuid.uuid4().hex[:8]}"

    def run(name, *args, io_total=OBJECTS * 4096):
        out = tmp_path / name
        r = bench("rados", "--conf", lab.conf, "--keyring", lab.keyring, "--pool", lab.pool, "--prefix", prefix,
                  "--objects", OBJECTS, "--access", "seq", "--procs", 1, "--iodepth", 2,
                  "--io-total", io_total, "--no-watch-cluster", "--quiet", "--no-save", "--json", out, *args)
        assert out.exists(), r.stdout + r.stderr
        return r, load_json(out)
    return prefix, run


def test_rados_objects_read_clean_and_a_lost_write_is_stale(lab, tmp_path):
    rados = import_ceph_module("rados")
    prefix, run = rados_runner(lab, tmp_path)
    r, _ = run("1.json", "--op", "write", "--verify", "--no-cleanup")
    assert r.returncode == 0 and (tmp_path / "1.verify.npz").is_file(), r.stdout + r.stderr
    r, doc = run("2.json", "--op", "read", "--verify-against", tmp_path / "1.json", "--no-cleanup")
    assert r.returncode == 0, r.stdout + r.stderr
    assert checked_blocks(doc) == OBJECTS and " 0 never written" in doc["workers"][0]["message"]
    with rados.Rados(conffile=str(lab.conf), conf={"keyring": str(lab.keyring)}) as cluster:
        with cluster.open_ioctx(lab.pool) as ioctx:
            old = ioctx.read(f"{prefix}.0.3", 4096)
            r, _ = run("3.json", "--op", "write", "--verify-against", tmp_path / "1.json", "--no-cleanup")
            assert r.returncode == 0 and (tmp_path / "3.verify.npz").is_file(), r.stdout + r.stderr
            ioctx.write_full(f"{prefix}.0.3", old)             # the third run's write of object 3 is lost
    r, doc = run("4.json", "--op", "read", "--verify-against", tmp_path / "3.json")     # then removes them
    assert r.returncode == 4, r.stdout + r.stderr
    assert doc["errors_by_kind"] == {"read": {"verify": 1}}
    assert "stale at offset 3 (expected write w0#12, found w0#4)" in doc["workers"][0]["message"]


def test_rados_a_prefilled_run_keeps_every_object_in_its_map(lab, tmp_path):
    """The prefill's writes are in the worker's map: a later read run finds every object (none
    turned into a write for want of it), and numbers go on after the prefill's and the run's."""
    import numpy as np

    _, run = rados_runner(lab, tmp_path)
    r, _ = run("1.json", "--op", "mixed", "--mix", "write=1,read=1", "--verify", "--no-cleanup", io_total=4 * 4096)
    assert r.returncode == 0, r.stdout + r.stderr
    with np.load(tmp_path / "1.verify.npz") as earlier:
        assert np.all(earlier["w0_last_seq"] > 0) and int(earlier["w0_writes"]) > OBJECTS
    r, doc = run("2.json", "--op", "read", "--verify-against", tmp_path / "1.json")     # then removes them
    assert r.returncode == 0, r.stdout + r.stderr
    rows = {row["op"]: row for row in doc["summary"]}
    assert rows["read"]["ops"] == OBJECTS and rows.get("write", {"ops": 0})["ops"] == 0, rows
    assert checked_blocks(doc) == OBJECTS and " 0 never written" in doc["workers"][0]["message"]
