"""`chopsticks bench rados` against the lab's real Ceph: objects land under the names and sizes
the run says, reads find the prefill, counts add up, cleanup removes what the run made, bad
input fails fast with one line."""
import pytest

from chopsticks._fast.payload import read_stamp
from chopsticks.ceph import import_ceph_module
from helpers.engine_cli import bench, load_json

pytestmark = pytest.mark.ceph

POOL = "chopsticks-test"


def cluster_args(lab):
    return ["--conf", lab.conf, "--keyring", lab.keyring, "--pool", POOL, "--create-pool", "--no-save", "--quiet"]


def pool_objects(lab, prefix: str, namespace: str = "") -> dict[str, bytes]:
    rados = import_ceph_module("rados")
    with rados.Rados(conffile=str(lab.conf), conf={"keyring": str(lab.keyring)}) as cluster:
        with cluster.open_ioctx(POOL) as ioctx:
            ioctx.set_namespace(namespace)
            names = [o.key for o in ioctx.list_objects() if o.key.startswith(prefix)]
            return {name: ioctx.read(name, 1 << 20) for name in names}


def test_writes_land_as_named_objects_of_the_drawn_sizes(lab, tmp_path):
    r = bench("rados", *cluster_args(lab), "--prefix", "w", "--namespace", "ns1", "--procs", 2, "--objects", 20,
              "--access", "seq", "--size", "4k-12k", "--io-total", "1M", "--iodepth", 4, "--no-cleanup",
              "--json", tmp_path / "w.json")
    assert r.returncode == 0, r.stderr
    objects = pool_objects(lab, "w.", "ns1")
    # sequential access over 20 objects per worker: every name written, none outside the range
    assert sorted(objects) == sorted(f"w.{w}.{n:02d}" for w in range(2) for n in range(20))
    assert all(4096 <= len(data) <= 12288 for data in objects.values())
    assert len({len(data) for data in objects.values()}) > 1            # sizes are drawn, not fixed
    index, seq = read_stamp(objects["w.1.07"][:4096])
    assert index == 7 and seq > 0                                      # stamped with the object's index
    assert pool_objects(lab, "w.", "") == {}                           # nothing outside the namespace
    doc = load_json(tmp_path / "w.json")
    write = {row["op"]: row for row in doc["summary"]}["write"]
    assert write["ops"] + doc["drain_ops"] == sum(w["completed"] for w in doc["workers"]) == 128  # 1M / 8k mean
    assert 4096 * write["ops"] <= write["bytes"] <= 12288 * write["ops"]
    assert bench("rados", *cluster_args(lab), "--prefix", "w", "--namespace", "ns1", "--procs", 2,
                 "--objects", 20, "--op", "stat", "--duration", "1s").returncode == 0
    assert pool_objects(lab, "w.", "ns1") == {}                          # the stat run cleaned up after itself


def test_reads_find_the_prefill_and_count_its_bytes(lab, tmp_path):
    r = bench("rados", *cluster_args(lab), "--prefix", "r", "--op", "read", "--size", "8k", "--objects", 64,
              "--procs", 2, "--duration", "2s", "--json", tmp_path / "r.json")
    assert r.returncode == 0, r.stderr
    doc = load_json(tmp_path / "r.json")
    read = {row["op"]: row for row in doc["summary"]}["read"]
    assert read["ops"] > 100 and read["errors"] == 0
    assert read["bytes"] == read["ops"] * 8192                        # every read returned a whole object
    assert doc["cluster"]["fsid"] == lab.fsid
    assert pool_objects(lab, "r.") == {}                               # --cleanup is the default


def test_mixed_run_counts_every_op_kind(lab, tmp_path):
    r = bench("rados", *cluster_args(lab), "--prefix", "m", "--op", "mixed", "--mix", "write=20,read=40,stat=30,delete=10",
              "--objects", 50, "--procs", 1, "--duration", "2s", "--json", tmp_path / "m.json")
    assert r.returncode == 0, r.stderr
    rows = {row["op"]: row for row in load_json(tmp_path / "m.json")["summary"]}
    assert all(rows[op]["ops"] > 0 and rows[op]["errors"] == 0 for op in ("write", "read", "stat", "delete"))
    assert rows["read"]["ops"] > rows["delete"]["ops"]
    assert rows["all"]["ops"] == sum(rows[op]["ops"] for op in ("write", "read", "stat", "delete"))


def test_delete_removes_every_object_once_and_stops(lab, tmp_path):
    r = bench("rados", *cluster_args(lab), "--prefix", "d", "--op", "delete", "--objects", 300, "--procs", 2,
              "--duration", "30s", "--json", tmp_path / "d.json", timeout=60)
    assert r.returncode == 0, r.stderr
    doc = load_json(tmp_path / "d.json")
    assert {row["op"]: row for row in doc["summary"]}["delete"]["ops"] == 600
    assert doc["measured_s"] < 20                                      # done when nothing is left
    assert pool_objects(lab, "d.") == {}


def _one_line_error(r, needle):
    assert r.returncode == 1, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chopsticks: error:") and needle in lines[0], r.stderr


def test_missing_pool_names_the_way_to_create_it(lab):
    _one_line_error(bench("rados", "--conf", lab.conf, "--keyring", lab.keyring, "--pool", "nosuchpool",
                          "--duration", "1s", "--no-save"), "--create-pool")


def test_bad_options_are_usage_errors(lab):
    assert bench("rados", "--conf", lab.conf, "--op", "list", "--duration", "1s").returncode == 2
    assert bench("rados", "--conf", lab.conf, "--access", "zigzag", "--duration", "1s").returncode == 2
    assert bench("rados", "--conf", lab.conf, "--op", "mixed", "--mix", "write=1,get=2", "--duration", "1s").returncode == 2
