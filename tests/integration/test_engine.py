"""The engine end to end through `chopsticks bench null` (no Ceph needed): counts, outputs,
Ctrl+C, a dying worker, bad input."""
import csv

import pytest

from helpers.engine_cli import bench, chopsticks, interrupt_once_running, kill_one_worker_once_running, load_json, start_bench


def test_io_total_splits_evenly_and_counts_add_up(tmp_path):
    out = tmp_path / "r.json"
    r = bench("null", "--procs", 2, "--bs", "4k", "--io-total", "8M", "--json", out, "--csv", tmp_path / "r.csv",
              "--timeseries-csv", tmp_path / "ts.csv", "--quiet")
    assert r.returncode == 0, r.stderr
    doc = load_json(out)
    total = next(row for row in doc["summary"] if row["op"] == "all")
    assert total["ops"] == 2048                               # 8 MiB / 4 KiB
    assert sum(w["completed"] for w in doc["workers"]) == 2048
    assert total["bytes"] == 8 << 20
    assert sum(c for _, c in doc["histogram"]["ops"]["write"]) == 2048
    rows = list(csv.DictReader(open(tmp_path / "r.csv")))
    assert [r["op"] for r in rows] == ["write", "all"] and int(rows[1]["ops"]) == 2048
    series = list(csv.DictReader(open(tmp_path / "ts.csv")))
    assert sum(int(s["iops"]) for s in series) == 2048
    assert doc["partial"] is False
    shown = chopsticks("report", "show", out)
    assert shown.returncode == 0 and "2,048" in shown.stdout.splitlines()[-2]


def test_duration_ramp_and_mix(tmp_path):
    out = tmp_path / "r.json"
    r = bench("null", "--procs", 2, "--rw", "randrw", "--rwmixread", 70, "--duration", "2s", "--ramp", 1,
              "--json", out, "--quiet")
    assert r.returncode == 0, r.stderr
    doc = load_json(out)
    assert 1.9 < doc["measured_s"] < 2.5
    rows = {row["op"]: row for row in doc["summary"]}
    assert rows["read"]["ops"] / rows["all"]["ops"] == pytest.approx(0.7, abs=0.01)
    phases = [s["phase"] for s in doc["timeseries"]]
    assert phases == sorted(phases, key=["ramp", "measured", "drain"].index)
    assert {"ramp", "measured"} <= set(phases) <= {"ramp", "measured", "drain"}
    measured_ops = sum(s["iops"] for s in doc["timeseries"] if s["phase"] == "measured")
    assert measured_ops == rows["all"]["ops"]                # ramp left out of the summary
    assert sorted(w["cpu"] for w in doc["workers"]) == sorted(doc["settings"]["cpus"])


def test_ctrl_c_writes_a_partial_result(tmp_path):
    out = tmp_path / "r.json"
    proc = start_bench("null", "--procs", 2, "--duration", "60s", "--json", out)
    code, stdout, _ = interrupt_once_running(proc)
    assert code == 130
    doc = load_json(out)
    assert doc["partial"] is True and "interrupted" in doc["notes"][0]
    assert 1.0 < doc["measured_s"] < 10
    assert doc["summary"][-1]["ops"] > 0
    assert "PARTIAL RESULT" in stdout


def test_a_killed_worker_is_reported_and_the_others_results_kept(tmp_path):
    out = tmp_path / "r.json"
    proc = start_bench("null", "--procs", 2, "--duration", "8s", "--json", out)
    killed = kill_one_worker_once_running(proc, 2)
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 3
    doc = load_json(out)
    assert doc["partial"] is True
    assert any(f"pid {killed}" in n and "SIGKILL" in n for n in doc["notes"]), doc["notes"]
    survivor = next(w for w in doc["workers"] if w["pid"] != killed)
    assert survivor["state"] == "done" and survivor["completed"] > 0
    # The dead worker keeps what shared memory and /proc last showed of it.
    victim = next(w for w in doc["workers"] if w["pid"] == killed)
    assert victim["state"] == "killed" and victim["completed"] > 0 and victim["cpu_user_s"] > 0
    assert doc["summary"][-1]["ops"] + doc["drain_ops"] == survivor["completed"] + victim["completed"]


@pytest.mark.parametrize("args, needle", [
    (["--iodepth", "0"], "--iodepth"),
    (["--bs", "0"], "--bs"),
    (["--bs", "huge"], "--bs"),
    (["--duration", "5x"], "--duration"),
    (["--rw", "sideways"], "--rw"),
    (["--rwmixread", "101"], "--rwmixread"),
    (["--io-total", "-1"], "--io-total"),
    (["--procs", "0"], "--procs"),
])
def test_bad_arguments_exit_2_with_the_option_named(args, needle):
    r = bench("null", *args, "--quiet")
    assert r.returncode == 2
    assert needle in r.stderr
    assert "Traceback" not in r.stderr


def test_output_directory_must_exist(tmp_path):
    r = bench("null", "--duration", "1s", "--csv", tmp_path / "missing" / "x.csv", "--quiet")
    assert r.returncode == 1
    assert "does not exist" in r.stderr and len(r.stderr.strip().splitlines()) == 1
