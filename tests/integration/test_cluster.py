"""Cluster mode (`--cluster`, `chopsticks worker`): a real `dask scheduler` and `chopsticks worker`
processes on loopback, and `--cluster local:N`. Each host runs --procs 1 (the machine has 2 cores)."""
import contextlib
import csv
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest

from chopsticks.lab.ports import free_ports
from helpers.engine_cli import CHOPSTICKS, chopsticks, load_json, wait_for_progress

REPO = Path(__file__).resolve().parents[2]
DASK = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
QUIET_DASK = {**os.environ, "DASK_LOGGING__DISTRIBUTED": "error"}


def start_worker(address: str, name: str) -> subprocess.Popen:
    return subprocess.Popen([*CHOPSTICKS, "worker", address, "--name", name], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=QUIET_DASK)


def wait_connected(address: str, n: int, timeout=60.0) -> None:
    from distributed import Client

    with Client(address, timeout="20s") as c:
        c.wait_for_workers(n, timeout=timeout)


def stop(procs) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@contextlib.contextmanager
def dask_scheduler():
    """A `dask scheduler` as users start it; yields its address."""
    port, = free_ports(1)
    proc = subprocess.Popen([*DASK, "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=QUIET_DASK)
    try:
        yield f"tcp://127.0.0.1:{port}"
    finally:
        stop([proc])


@pytest.fixture(scope="module")
def scheduler():
    with dask_scheduler() as address:
        yield address


@pytest.fixture(scope="module")
def two_hosts(scheduler):
    """Two `chopsticks worker` hosts (host-a, host-b) on the module's scheduler."""
    workers = [start_worker(scheduler, name) for name in ("host-a", "host-b")]
    try:
        wait_connected(scheduler, 2)
        yield scheduler
    finally:
        stop(workers)


def engine_pids(worker_pid: int) -> list[int]:
    """The engine's worker processes a Dask worker spawned (from its task thread, hence every task's children)."""
    children = [int(p) for task in Path(f"/proc/{worker_pid}/task").iterdir()
                for p in (task / "children").read_text().split()]
    return [p for p in children if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]


def timeseries_ops(path: Path) -> dict[str, int]:
    """{host: iops summed over the measured seconds} from a cluster --timeseries-csv."""
    totals = defaultdict(int)
    with open(path) as f:
        for row in csv.DictReader(f):
            if row["phase"] == "measured":
                totals[row["host"]] += int(row["iops"])
    return dict(totals)


def check_merge(tmp_path, result, hosts=("host-a", "host-b")) -> dict:
    """The merged ops equal the sum of the hosts' in the JSON, the CSV and the time series."""
    assert result.returncode == 0, result.stdout + result.stderr
    doc = load_json(tmp_path / "r.json")
    merged = doc["summary"][-1]["ops"]
    assert merged > 0
    assert [h["host"] for h in doc["hosts"]] == list(hosts)
    assert merged == sum(h["summary"][-1]["ops"] for h in doc["hosts"])
    assert all(h["summary"][-1]["ops"] > 0 for h in doc["hosts"])
    with open(tmp_path / "r.csv") as f:
        assert int(list(csv.DictReader(f))[-1]["ops"]) == merged
    series = timeseries_ops(tmp_path / "ts.csv")
    assert series["all"] == sum(series[h] for h in hosts)
    assert {w["index"] for w in doc["workers"]} == set(range(len(hosts)))
    for line in result.stdout.splitlines():
        if line.startswith("host "):
            assert "ops" in line and "clock" in line
    return doc


def outputs(tmp_path) -> list:
    return ["--json", tmp_path / "r.json", "--csv", tmp_path / "r.csv", "--timeseries-csv", tmp_path / "ts.csv",
            "--progress", "plain", "--no-save"]


def test_local_cluster_merges_exactly(tmp_path):
    r = chopsticks("bench", "null", "--cluster", "local:2", "--procs", 1, "-t", "2s", *outputs(tmp_path))
    doc = check_merge(tmp_path, r, hosts=("local-0", "local-1"))
    assert doc["first_op_spread_ms"] is not None and doc["first_op_spread_ms"] < 1000
    assert all(abs(h["clock_offset_ms"]) < 100 for h in doc["hosts"])
    shown = chopsticks("report", "show", tmp_path / "r.json")
    assert shown.returncode == 0, shown.stderr
    lines = [line for line in shown.stdout.splitlines() if line.startswith("host local-")]
    assert len(lines) == 2 and f"{doc['hosts'][0]['summary'][-1]['ops']:,} ops" in lines[0]


@pytest.mark.ceph
def test_bench_rbd_on_two_hosts_uses_disjoint_images(lab, two_hosts, tmp_path):
    image = f"cluster-{uuid.uuid4().hex[:8]}"
    r = chopsticks("bench", "rbd", "--cluster", two_hosts, "--procs", 1, "-t", "2s", "--image", image,
                   "--image-per-proc", "--create", "16M", "--bs", "4k", "--iodepth", 4, *outputs(tmp_path))
    doc = check_merge(tmp_path, r)
    assert sorted(doc["cluster"]["image_bytes"]) == [f"{image}-0", f"{image}-1"]
    assert "keyring" not in r.stdout + r.stderr


def bucket_keys(lab, prefix: str) -> list[str]:
    import boto3
    s3 = boto3.client("s3", endpoint_url=lab.s3_endpoint, aws_access_key_id=lab.access_key,
                      aws_secret_access_key=lab.secret_key, region_name="us-east-1")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=lab.bucket, Prefix=prefix)
    keys = [obj["Key"] for page in pages for obj in page.get("Contents", [])]
    for k in keys:
        s3.delete_object(Bucket=lab.bucket, Key=k)
    return keys


@pytest.mark.ceph
def test_bench_s3_native_on_two_hosts_uses_disjoint_prefixes(lab, two_hosts, tmp_path):
    t0 = int(time.time())
    r = chopsticks("bench", "s3", "--workload-config", lab.s3_config, "--driver", "native", "--op", "put",
                   "--cluster", two_hosts, "--procs", 1, "--concurrency", 2, "-t", "2s", "--no-cleanup",
                   *outputs(tmp_path))
    doc = check_merge(tmp_path, r)
    by_worker = defaultdict(int)
    for key in bucket_keys(lab, "chopsticks-bench/"):
        base, _, worker = key.split("/")[1].rpartition("-w")      # <second>-<tag>-w<worker>
        second = base.partition("-")[0]
        if second.isdigit() and int(second) >= t0:
            by_worker[int(worker)] += 1
    host_ops = [h["summary"][-1]["ops"] for h in doc["hosts"]]     # host-a has worker 0, host-b worker 1
    assert by_worker[0] >= host_ops[0] > 0 and by_worker[1] >= host_ops[1] > 0


FAST_CONFIG = "s3_small_objects: {object_size_kb: 4, max_keys_in_memory: 20, min_wait_s: 0, max_wait_s: 0}\n"


@pytest.mark.ceph
def test_shipped_scenario_through_run_on_two_hosts(lab, two_hosts, tmp_path):
    config = tmp_path / "fast.yaml"
    config.write_text(FAST_CONFIG)
    r = chopsticks("run", "-f", REPO / "scenarios" / "s3_small_objects.py", "--scenario-config", config,
                   "--workload-config", lab.s3_config, "--headless", "--users", 2, "--spawn-rate", 20,
                   "--duration", "2s", "--cluster", two_hosts, *outputs(tmp_path), timeout=180)
    doc = check_merge(tmp_path, r)
    assert doc["settings"]["target"]["users"] == 2


@pytest.mark.ceph
def test_a_host_that_cannot_open_the_target_stops_the_start(lab, two_hosts, tmp_path):
    r = chopsticks("bench", "rbd", "--cluster", two_hosts, "--procs", 1, "-t", "2s", "--image", "no-such-image")
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert ("host host-a" in r.stderr or "host host-b" in r.stderr), r.stderr     # whichever failed first
    assert "could not start" in r.stderr and "no-such-image" in r.stderr


@pytest.mark.ceph
def test_rbd_scenario_ships_the_conf_and_keyring_to_the_hosts(lab, two_hosts, tmp_path):
    config = tmp_path / "fast.yaml"
    config.write_text("rbd_random_io: {block_size_kb: 4, span_mb: 16, min_wait_s: 0, max_wait_s: 0}\n")
    r = chopsticks("run", "-f", REPO / "scenarios" / "rbd_random_io.py", "--scenario-config", config, "--headless",
                   "--users", 2, "--spawn-rate", 20, "--duration", "2s", "--cluster", two_hosts, *outputs(tmp_path),
                   timeout=180)
    doc = check_merge(tmp_path, r)
    assert doc["summary"][-1]["errors"] == 0
    assert doc["settings"]["target"]["workload_config"]["conf"] == str(lab.conf)   # the client's paths, not the hosts'


def test_lost_host_gives_a_partial_result_naming_it(tmp_path):
    with dask_scheduler() as scheduler:         # its own: the module's has other hosts connected
        check_lost_host(scheduler, tmp_path)


def check_lost_host(scheduler: str, tmp_path) -> None:
    workers = [start_worker(scheduler, name) for name in ("keep", "lose")]
    try:
        wait_connected(scheduler, 2)
        client = subprocess.Popen([*CHOPSTICKS, "bench", "null", "--cluster", scheduler, "--hosts", "2", "--procs", "1",
                                   "-t", "8s", "--json", tmp_path / "r.json", "--progress", "plain", "--no-save"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for_progress(client)
        engine = engine_pids(workers[1].pid)
        assert engine, "the lost host's engine workers were not found"
        workers[1].send_signal(signal.SIGKILL)
        out, err = client.communicate(timeout=90)
        assert client.returncode == 3, out + err
        assert "host lose" in out and "lost after second" in out
        doc = load_json(tmp_path / "r.json")
        assert doc["partial"] and any("host lose" in n for n in doc["notes"])
        lost = {h["host"]: h for h in doc["hosts"]}
        assert lost["lose"]["lost_at_s"] is not None and lost["keep"]["lost_at_s"] is None
        assert lost["keep"]["summary"][-1]["ops"] > 0
        assert doc["summary"][-1]["ops"] == sum(h["summary"][-1]["ops"] for h in doc["hosts"])
        time.sleep(5)
        assert not [p for p in engine if Path(f"/proc/{p}").exists()
                    and Path(f"/proc/{p}/stat").read_text().split(") ")[1][0] != "Z"]
    finally:
        stop(workers)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_on_the_client_drains_every_host(tmp_path, signum):
    client = subprocess.Popen([*CHOPSTICKS, "bench", "null", "--cluster", "local:2", "--procs", "1", "-t", "60s",
                               "--json", tmp_path / "r.json", "--progress", "plain", "--no-save"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_progress(client)
    client.send_signal(signum)
    out, err = client.communicate(timeout=90)
    assert client.returncode == 128 + signum, out + err
    doc = load_json(tmp_path / "r.json")
    assert doc["partial"] and doc["stop_signal"] == signal.Signals(signum).name
    assert doc["measured_s"] < 30
    assert all(h["summary"][-1]["ops"] > 0 and h["lost_at_s"] is None for h in doc["hosts"])


def test_a_daemonic_dask_worker_is_named_in_a_one_line_error(tmp_path):
    """A plain `dask worker` (with its nanny) cannot start the engine's processes."""
    with dask_scheduler() as scheduler:
        check_daemonic_worker(scheduler)


def check_daemonic_worker(scheduler: str) -> None:
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", scheduler, "--nthreads", "1",
                               "--name", "plain-dask", "--no-dashboard"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=QUIET_DASK)
    try:
        wait_connected(scheduler, 1)
        r = chopsticks("bench", "null", "--cluster", scheduler, "--procs", 1, "-t", "1s")
        assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "host plain-dask" in r.stderr and "chopsticks worker" in r.stderr
    finally:
        stop([worker])


def test_unreachable_scheduler_is_a_one_line_error():
    port, = free_ports(1)
    r = chopsticks("bench", "null", "--cluster", f"tcp://127.0.0.1:{port}", "-t", "1s")
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "cannot reach the Dask scheduler" in r.stderr


def test_too_few_hosts_is_a_one_line_error(two_hosts):
    r = chopsticks("bench", "null", "--cluster", two_hosts, "--hosts", 3, "--wait-hosts", "2s", "-t", "1s")
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "only 2 of 3 host(s) connected" in r.stderr


def test_hosts_without_cluster_is_a_usage_error(monkeypatch):
    monkeypatch.delenv("CHOPSTICKS_CLUSTER", raising=False)
    r = chopsticks("bench", "null", "--hosts", 2, "-t", "1s")
    assert r.returncode == 2 and "--cluster" in r.stderr


def test_slo_search_on_a_cluster_is_a_usage_error():
    r = chopsticks("bench", "null", "--cluster", "local:2", "--slo", "p99<=5ms")
    assert r.returncode == 2 and "--slo" in r.stderr


@pytest.mark.ceph
def test_leader_and_worker_flags_of_0x(lab, tmp_path):
    port, = free_ports(1)
    config = tmp_path / "fast.yaml"
    config.write_text(FAST_CONFIG)
    scenario = REPO / "scenarios" / "s3_small_objects.py"
    common = ["-f", str(scenario), "--scenario-config", str(config), "--workload-config", str(lab.s3_config)]
    leader = subprocess.Popen([*CHOPSTICKS, "run", *common, "--headless", "--users", "2", "--spawn-rate", "20",
                               "--duration", "2s", "--leader", "--expect-workers", "2", "--leader-bind",
                               f"127.0.0.1:{port}", "--json", tmp_path / "r.json", "--progress", "plain", "--no-save"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    workers = [subprocess.Popen([*CHOPSTICKS, "run", *common, "--worker", "--leader-host", f"127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=QUIET_DASK)
               for _ in range(2)]
    try:
        out, err = leader.communicate(timeout=180)
        assert leader.returncode == 0, out + err
        doc = load_json(tmp_path / "r.json")
        assert len(doc["hosts"]) == 2
        assert doc["summary"][-1]["ops"] == sum(h["summary"][-1]["ops"] for h in doc["hosts"]) > 0
    finally:
        stop(workers)
        if leader.poll() is None:
            leader.kill()
