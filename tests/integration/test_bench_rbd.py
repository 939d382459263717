"""`chopsticks bench rbd` against the lab's real Ceph: data lands where the engine says, counts
add up, stops and failures keep results, bad input fails fast with one line."""
import csv

import pytest

from chopsticks._fast.payload import read_stamp
from chopsticks.ceph import import_ceph_module
from helpers.engine_cli import bench, interrupt_once_running, kill_one_worker_once_running, load_json, start_bench

pytestmark = pytest.mark.ceph


def cluster_args(lab):
    return ["--conf", lab.conf, "--keyring", lab.keyring]


def read_image(lab, image: str, offset: int, length: int) -> bytes:
    rados, rbd = import_ceph_module("rados"), import_ceph_module("rbd")
    with rados.Rados(conffile=str(lab.conf), conf={"keyring": str(lab.keyring)}) as cluster:
        with cluster.open_ioctx(lab.pool) as ioctx:
            with rbd.Image(ioctx, image) as img:
                return img.read(offset, length)


def test_sequential_write_lands_every_block_where_the_engine_says(lab, tmp_path):
    r = bench("rbd", *cluster_args(lab), "--image", "raw", "--image-per-proc", "--create", "64M", "--procs", 1,
              "--rw", "write", "--bs", "16k", "--offset", "1M", "--span", "1M", "--io-total", "1M", "--iodepth", 4,
              "--json", tmp_path / "w.json", "--quiet")
    assert r.returncode == 0, r.stderr
    data = read_image(lab, "raw-0", 1 << 20, 1 << 20)
    stamps = [read_stamp(data[o:o + 4096]) for o in range(0, len(data), 4096)]
    assert [s[0] for s in stamps] == [(1 << 20) + o for o in range(0, 1 << 20, 4096)]
    # every 16 KiB op carries one sequence number in each of its four 4 KiB blocks
    seqs = [s[1] for s in stamps]
    assert sorted(set(seqs)) == list(range(1, 65)) and all(seqs.count(q) == 4 for q in set(seqs))
    before = read_image(lab, "raw-0", 0, 4096)
    assert read_stamp(before) is None                       # nothing written outside --offset/--span


def test_counts_in_outputs_equal_the_sum_over_workers(lab, tmp_path):
    r = bench("rbd", *cluster_args(lab), "--pool", lab.pool, "--image", lab.image, "--procs", 2, "--rw", "randrw",
              "--duration", "3s", "--json", tmp_path / "r.json", "--csv", tmp_path / "r.csv", "--quiet")
    assert r.returncode == 0, r.stderr
    doc = load_json(tmp_path / "r.json")
    rows = {row["op"]: row for row in doc["summary"]}
    assert rows["all"]["ops"] > 100
    assert rows["read"]["ops"] + rows["write"]["ops"] == rows["all"]["ops"]
    # Ops completing after the deadline are drain: counted by the workers, left out of the figures.
    assert rows["all"]["ops"] + rows["all"]["errors"] + doc["drain_ops"] == sum(w["completed"] for w in doc["workers"])
    for op in ("read", "write"):
        assert sum(c for _, c in doc["histogram"]["ops"][op]) == rows[op]["ops"]
    assert doc["cluster"]["fsid"] == lab.fsid
    assert all(w["cpu_user_s"] > 0 for w in doc["workers"])
    csv_rows = {row["op"]: row for row in csv.DictReader(open(tmp_path / "r.csv"))}
    assert int(csv_rows["all"]["ops"]) == rows["all"]["ops"]
    p50, p99 = float(csv_rows["all"]["lat_p50_us"]), float(csv_rows["all"]["lat_p99_us"])
    assert 0 < p50 <= p99 <= float(csv_rows["all"]["lat_max_us"])


def test_many_more_workers_than_cpus(lab, tmp_path):
    r = bench("rbd", *cluster_args(lab), "--procs", 32, "--duration", "3s", "--iodepth", 2,
              "--csv", tmp_path / "out.csv", "--quiet", timeout=300)
    assert r.returncode == 0, r.stderr
    assert "32 workers on" in r.stderr
    rows = list(csv.DictReader(open(tmp_path / "out.csv")))
    assert rows[-1]["op"] == "all" and int(rows[-1]["ops"]) > 0


def test_ctrl_c_writes_a_partial_result(lab, tmp_path):
    proc = start_bench("rbd", *cluster_args(lab), "--procs", 2, "--duration", "60s", "--json", tmp_path / "r.json")
    code, stdout, _ = interrupt_once_running(proc)
    assert code == 130
    doc = load_json(tmp_path / "r.json")
    assert doc["partial"] is True and doc["summary"][-1]["ops"] > 0
    assert doc["measured_s"] < 30


def test_a_killed_worker_is_reported_and_results_are_still_written(lab, tmp_path):
    proc = start_bench("rbd", *cluster_args(lab), "--procs", 2, "--duration", "8s", "--json", tmp_path / "r.json")
    killed = kill_one_worker_once_running(proc, 2)
    proc.communicate(timeout=120)
    assert proc.returncode == 3
    doc = load_json(tmp_path / "r.json")
    assert any(f"pid {killed}" in n and "SIGKILL" in n for n in doc["notes"]), doc["notes"]
    assert doc["summary"][-1]["ops"] > 0


def _one_line_error(r, needle):
    assert r.returncode == 1, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chopsticks: error:") and needle in lines[0], r.stderr


def test_missing_pool(lab):
    _one_line_error(bench("rbd", *cluster_args(lab), "--pool", "nosuchpool", "--duration", "1s"), "pool 'nosuchpool' does not exist")


def test_missing_image(lab):
    _one_line_error(bench("rbd", *cluster_args(lab), "--image", "nosuchimage", "--duration", "1s"), "does not exist")


def test_block_larger_than_the_image(lab):
    _one_line_error(bench("rbd", *cluster_args(lab), "--bs", "2G", "--duration", "1s"), "larger than")


def test_unreachable_cluster(lab, tmp_path):
    conf = tmp_path / "ceph.conf"
    conf.write_text(f"[global]\nmon host = 127.0.0.1:9\nkeyring = {lab.keyring}\n")
    _one_line_error(bench("rbd", "--conf", conf, "--connect-timeout", 2, "--duration", "1s", timeout=60), "cannot reach")


def test_wrong_key(lab, tmp_path):
    keyring = tmp_path / "bad.keyring"
    keyring.write_text("[client.admin]\n\tkey = AQBvaKVlAAAAABAAmiGUzY1PpbU1XEoCXHvmOw==\n")
    _one_line_error(bench("rbd", "--conf", lab.conf, "--keyring", keyring, "--connect-timeout", 5, "--duration", "1s",
                          timeout=60), "refused client.admin")
