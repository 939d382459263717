"""Rate mode (issue #11): the schedule is kept, and latency is timed from each op's intended start,
so a cluster stall costs every op it delayed, not one per in-flight slot."""
import csv
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from helpers.engine_cli import bench, load_json, start_bench, wait_for_progress, wait_for_workers
from chopsticks._fast.schedule import intended_starts
from chopsticks.metrics.histogram import LOWER_NS, from_sparse, percentiles_ns

UNIFORM, POISSON = 0, 1


def test_uniform_schedule_is_exact():
    starts = intended_starts(2000.0, UNIFORM, 1, 1000)
    assert np.allclose(np.diff(starts), 500_000.0)


def test_poisson_gaps_fit_the_exponential():
    """Kolmogorov–Smirnov against the exponential of the asked rate, at the 1 % level."""
    rate, n = 1000.0, 20_000
    gaps = np.sort(np.diff(intended_starts(rate, POISSON, 42, n + 1))) / 1e9
    cdf = 1.0 - np.exp(-rate * gaps)
    ecdf_hi = np.arange(1, n + 1) / n
    ecdf_lo = np.arange(0, n) / n
    d = max(np.max(ecdf_hi - cdf), np.max(cdf - ecdf_lo))
    assert d < 1.63 / np.sqrt(n), d
    assert gaps.mean() == pytest.approx(1 / rate, rel=0.03)
    # Another seed gives another schedule; the same seed the same one.
    assert not np.array_equal(intended_starts(rate, POISSON, 43, 10), intended_starts(rate, POISSON, 42, 10))
    assert np.array_equal(intended_starts(rate, POISSON, 42, 10), intended_starts(rate, POISSON, 42, 10))


def rows_by_op(doc):
    return {r["op"]: r for r in doc["summary"]}


def test_null_at_2000_ops_s_keeps_the_rate_every_second(tmp_path):
    out = tmp_path / "r.json"
    r = bench("null", "--procs", 2, "--rate", 2000, "--duration", "4s", "--quiet", "--json", out, "--no-save")
    assert r.returncode == 0, r.stderr
    doc = load_json(out)
    assert doc["rate"]["achieved_ops_s"] == pytest.approx(2000, rel=0.02)
    per_second = [s["iops"] for s in doc["timeseries"] if s["op"] == "write" and s["phase"] == "measured"]
    assert len(per_second) == 4 and all(abs(n - 2000) <= 40 for n in per_second), per_second
    rows = rows_by_op(doc)
    assert {"write", "write.service", "schedule.lag", "all"} <= set(rows)
    assert rows["all"]["ops"] == rows["write"]["ops"]                 # derived rows are not ops
    assert "rate: asked 2,000 ops/s (uniform), achieved" in r.stdout


def test_without_rate_nothing_changes(tmp_path):
    out = tmp_path / "r.json"
    r = bench("null", "--procs", 1, "--duration", "1s", "--quiet", "--json", out, "--no-save")
    assert r.returncode == 0, r.stderr
    doc = load_json(out)
    assert set(rows_by_op(doc)) == {"write", "all"} and doc["rate"] is None


@pytest.mark.parametrize("args, needle", [
    (["--rate", "0"], "--rate"), (["--rate", "-5"], "--rate"), (["--rate", "1e12"], "--rate"),
    (["--arrivals", "bursty"], "--arrivals"), (["--rate", "10", "--slo", "p99<=5ms"], "leave out --rate"),
])
def test_bad_rate_options_are_usage_errors(args, needle):
    r = bench("null", *args, "-t", "1s", "--quiet", timeout=30)
    assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr


def test_rbd_at_1000_ops_s(lab, tmp_path):
    out = tmp_path / "r.json"
    r = bench("rbd", "--conf", lab.conf, "--keyring", lab.keyring, "--pool", lab.pool, "--image", lab.image,
              "--procs", 2, "--rate", 1000, "--duration", "4s", "--quiet", "--json", out, "--no-save")
    assert r.returncode == 0, r.stderr
    doc = load_json(out)
    assert doc["rate"]["achieved_ops_s"] == pytest.approx(1000, rel=0.02)
    per_second = [s["iops"] for s in doc["timeseries"] if s["op"] == "write" and s["phase"] == "measured"]
    assert all(abs(n - 1000) <= 50 for n in per_second), per_second
    rows = rows_by_op(doc)
    # Response time includes the schedule lag; service time does not.
    assert rows["write"]["lat_p50_us"] >= rows["write.service"]["lat_p50_us"]


def test_a_one_second_stall_costs_a_second_of_ops(lab, tmp_path):
    """Coordinated omission: with the OSD stopped 1 s at 1000 ops/s, about a thousand ops are
    delayed (response time up to ~1 s), while service time sees only the ops in flight."""
    out = tmp_path / "r.json"
    osd = lab.pids["osd.0"]
    proc = start_bench("rbd", "--conf", lab.conf, "--keyring", lab.keyring, "--pool", lab.pool, "--image", lab.image,
                       "--procs", 2, "--iodepth", 16, "--rate", 1000, "--duration", "8s", "--quiet", "--json", out,
                       "--no-save")
    wait_for_workers(proc, 2)
    time.sleep(4)
    os.kill(osd, signal.SIGSTOP)
    try:
        time.sleep(1.0)
    finally:
        os.kill(osd, signal.SIGCONT)
    _, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 0, stderr
    doc = load_json(out)
    response = from_sparse(doc["histogram"]["ops"]["write"])
    service = from_sparse(doc["histogram"]["ops"]["write.service"])
    (resp_p95,), (serv_p95,) = percentiles_ns(response, (95.0,)), percentiles_ns(service, (95.0,))
    assert resp_p95 >= 10 * serv_p95, (resp_p95, serv_p95)
    slow_response = int(response[LOWER_NS >= 100_000_000].sum())     # delayed by ≥ 100 ms
    slow_service = int(service[LOWER_NS >= 100_000_000].sum())
    assert 600 <= slow_response <= 1500, slow_response                # about a second's worth
    assert slow_service <= 32                                          # at most the ops in flight


def test_slo_search_on_the_lab(lab, tmp_path):
    curve, doc_path = tmp_path / "curve.csv", tmp_path / "slo.json"
    r = bench("rbd", "--conf", lab.conf, "--keyring", lab.keyring, "--pool", lab.pool, "--image", lab.image,
              "--procs", 1, "--slo", "p99<=20ms", "--step-duration", "2s", "--progress", "none",
              "--csv", curve, "--json", doc_path, timeout=300)
    assert r.returncode in (0, 4), r.stdout + r.stderr
    rows = list(csv.DictReader(open(curve)))
    assert rows[0]["asked_ops_s"] == "" and len(rows) >= 3                      # the probe, then steps
    steps = [r for r in rows[1:]]
    for row in steps:                                   # a step that met the SLO reached its rate
        if row["slo_met"] == "True":
            assert float(row["achieved_ops_s"]) >= 0.97 * float(row["asked_ops_s"])
    climb = [float(r["achieved_ops_s"]) for r in steps[:5] if r["slo_met"] == "True"]
    assert climb == sorted(climb)                       # achieved rates rise with the asked ones
    doc = load_json(doc_path)
    assert len(doc["steps"]) == len(rows) and doc["steps"][1]["settings"]["rate_ops_s"] > 0
    if r.returncode == 0:
        assert "answer:" in r.stdout and doc["answer_ops_s"] > 0
        met = [float(r["asked_ops_s"]) for r in steps if r["slo_met"] == "True"]
        assert doc["answer_ops_s"] == pytest.approx(max(met), abs=0.001)
    else:
        assert "no rate met" in r.stdout and doc["answer_ops_s"] is None


@pytest.mark.parametrize("rate, slack_ns", [(["--rate", "1000"], 1), ([], 50_000)])
def test_a_rate_mode_worker_waits_without_timer_slack(rate, slack_ns):
    """Linux lets a timed wait end up to 50 µs late (the thread's timer slack): in rate mode each op
    then started ~55 µs after its intended start (bench null --rate 3000: response time p50 59 µs
    for 0.1 µs of service), and the lag was in its response time. A rate-mode loop sets its slack
    to 1 ns; a closed loop, which waits on completions, keeps the default."""
    proc = start_bench("null", "--procs", 1, *rate, "--duration", "20s", "--progress", "plain", "--no-save")
    try:
        [worker] = wait_for_workers(proc, 1)
        wait_for_progress(proc)
        assert int(Path(f"/proc/{worker}/timerslack_ns").read_text()) == slack_ns
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


def test_the_progress_line_says_how_much_of_the_rate_each_second_reached(tmp_path):
    r = bench("null", "--procs", 1, "--rate", 1000, "--duration", "2s", "--progress", "plain", "--no-save")
    assert r.returncode == 0, r.stderr
    seconds = [line for line in r.stderr.splitlines() if line.startswith("[") and "IOPS" in line]
    assert seconds and all(" rate 100% lag p99 " in line for line in seconds), r.stderr


def test_python_driver_threads_follow_the_schedule(tmp_path):
    config = tmp_path / "mock.yaml"
    config.write_text("endpoint: http://127.0.0.1:1\naccess_key: a\nsecret_key: s\nbucket: b\ndriver: mock\n")
    out = tmp_path / "r.json"
    r = bench("s3", "--workload-config", config, "--op", "mixed", "--procs", 2, "--concurrency", 4,
              "--rate", 1000, "--duration", "3s", "--progress", "none", "--no-save", "--json", out)
    assert r.returncode == 0, r.stderr
    doc = load_json(out)
    assert doc["rate"]["achieved_ops_s"] == pytest.approx(1000, rel=0.02)
    rows = rows_by_op(doc)
    assert rows["schedule.lag"]["ops"] == rows["all"]["ops"]
    assert rows["get.service"]["ops"] == rows["get"]["ops"] and rows["get"]["lat_p50_us"] >= rows["get.service"]["lat_p50_us"]



def test_native_s3_at_300_ops_s(lab, tmp_path):
    out = tmp_path / "r.json"
    r = bench("s3", "--workload-config", lab.s3_config, "--driver", "native", "--op", "put", "--procs", 2,
              "--concurrency", 8, "--rate", 300, "--duration", "3s", "--progress", "none", "--no-save", "--json", out)
    assert r.returncode == 0, r.stderr
    doc = load_json(out)
    assert doc["rate"]["achieved_ops_s"] == pytest.approx(300, rel=0.02)
    rows = rows_by_op(doc)
    assert rows["put.service"]["ops"] == rows["schedule.lag"]["ops"] == rows["put"]["ops"] == rows["all"]["ops"]
    assert rows["put"]["lat_p50_us"] >= rows["put.service"]["lat_p50_us"]
