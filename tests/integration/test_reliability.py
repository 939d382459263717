"""Never lose a result, never leave load running (issue #10): stop signals, a killed parent,
bad output paths, absurd numbers, stalls made visible. Real processes throughout."""
import csv
import fcntl
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from helpers.engine_cli import CHOPSTICKS, bench, chopsticks, load_json, start_bench, wait_for_workers, worker_pids

SHM = Path("/dev/shm")
SEGMENTS = "chopsticks-*"       # engine/shm.py SEGMENT_PREFIX


def segments() -> set[str]:
    return {p.name for p in SHM.glob(SEGMENTS)}


def alive(pid: int) -> bool:
    """True while pid exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def one_line_error(r: subprocess.CompletedProcess, code: int, needle: str) -> None:
    assert r.returncode == code, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert needle in r.stderr, r.stderr


def mock_s3_config(tmp_path: Path) -> Path:
    path = tmp_path / "mock.yaml"
    path.write_text("endpoint: http://127.0.0.1:1\naccess_key: a\nsecret_key: s\nbucket: b\ndriver: mock\n")
    return path


# --- 1. output paths are checked before the run; a failed write never loses the others --------------

@pytest.mark.parametrize("flag, path, needle", [
    ("--csv", "/proc/x.csv", "cannot write /proc/x.csv"),
    ("--csv", "/nonexistent-dir/x.csv", "does not exist"),
    ("--json", "{tmp}", "is a directory"),
    ("--timeseries-csv", "{tmp}", "is a directory"),
])
def test_a_bad_output_path_is_refused_before_any_worker_starts(tmp_path, flag, path, needle):
    ok = tmp_path / "ok.json"
    t0 = time.monotonic()
    r = bench("null", "-t", "5s", "--quiet", flag, path.format(tmp=tmp_path), *(["--json", ok] if flag != "--json" else []))
    one_line_error(r, 1, needle)
    assert time.monotonic() - t0 < 5                        # refused before the 5 s run
    assert len(r.stderr.strip().splitlines()) == 1
    assert not ok.exists()


def test_an_output_that_fails_at_the_end_does_not_stop_the_others(tmp_path):
    from chopsticks.cli.common import write_outputs

    good = tmp_path / "good.csv"

    def fail(path):
        raise PermissionError(13, "Permission denied")

    written, failed = write_outputs([(tmp_path / "bad.json", fail), (good, lambda p: p.write_text("x"))])
    assert failed == [str(tmp_path / "bad.json")] and written == [str(good)] and good.read_text() == "x"


# --- 2. stop signals drain and write a partial result; a killed parent takes its workers along ------

@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_stop_signals_drain_and_write_a_partial_result(tmp_path, signum, code):
    out, ts = tmp_path / "r.json", tmp_path / "ts.csv"
    before = segments()
    proc = start_bench("null", "--procs", 2, "--duration", "30s", "--quiet", "--json", out, "--timeseries-csv", ts)
    workers = wait_for_workers(proc, 2)
    time.sleep(2.5)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == code, stderr
    doc = load_json(out)
    assert doc["partial"] is True and doc["stop_signal"] == signal.Signals(signum).name
    assert doc["notes"][0].startswith(f"interrupted by {signal.Signals(signum).name}")
    assert 1.0 < doc["measured_s"] < 10 and doc["summary"][-1]["ops"] > 0
    assert "PARTIAL RESULT" in stdout and ts.exists()
    time.sleep(3)
    assert not [p for p in workers if alive(p)]
    assert not (segments() - before)


def test_a_sigkilled_parent_takes_its_running_workers_along(tmp_path):
    before = segments()
    proc = start_bench("null", "--procs", 2, "--duration", "30s", "--quiet")
    workers = wait_for_workers(proc, 2)
    time.sleep(1.5)
    proc.kill()
    proc.wait(timeout=10)
    time.sleep(3)
    assert not [p for p in workers if alive(p)]
    assert not (segments() - before)


def test_a_sigkilled_parent_takes_its_starting_workers_along(tmp_path):
    """Workers still in their prefill (not yet told to start) must not wait forever."""
    before = segments()
    proc = subprocess.Popen([*CHOPSTICKS, "bench", "s3", "--workload-config", str(mock_s3_config(tmp_path)), "--op", "get",
                             "--objects", "10000000", "--concurrency", "1", "--procs", "2", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    workers = wait_for_workers(proc, 2)
    time.sleep(1.0)
    proc.kill()
    proc.wait(timeout=10)
    time.sleep(3)
    assert not [p for p in workers if alive(p)]
    assert not (segments() - before)


def test_ctrl_c_during_start_up_stops_it_with_130(tmp_path):
    proc = subprocess.Popen([*CHOPSTICKS, "bench", "s3", "--workload-config", str(mock_s3_config(tmp_path)), "--op", "get",
                             "--objects", "10000000", "--concurrency", "1", "--procs", "2", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    workers = wait_for_workers(proc, 2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "interrupted by SIGINT before the workers started" in stderr and "Traceback" not in stderr
    time.sleep(1)
    assert not [p for p in workers if alive(p)]


# --- 3, 4, 12. absurd numbers are refused in one line, before anything is allocated ----------------

@pytest.mark.parametrize("args, code, needle", [
    (["--duration", "1000000000"], 2, "at most 7 days"),
    (["--duration", "99999999999999999999"], 2, "at most 7 days"),
    (["--procs", "10000"], 2, "at most 64 per CPU"),
    (["--bs", "3"], 2, "multiple of 512"),
    (["--bs", "4000"], 2, "multiple of 512"),
    (["--ramp", "100000000"], 2, "--ramp"),
])
def test_absurd_numbers_are_refused_in_one_line(args, code, needle):
    before = segments()
    r = bench("null", *args, "--quiet", timeout=30)
    one_line_error(r, code, needle)
    assert not (segments() - before)


def test_buffers_larger_than_memory_are_refused(lab):
    r = bench("rbd", "--conf", lab.conf, "--keyring", lab.keyring, "--bs", "1G", "-q", "16", "--procs", 1, "-t", "1s",
              timeout=60)
    one_line_error(r, 1, "needs 16.0 GiB of buffers over 1 worker(s)")


# --- 7, 8. stalls are visible second by second; the drain is not measured -------------------------

def test_a_stalled_osd_shows_in_every_second_and_in_the_exit_status(lab, tmp_path):
    out, ts = tmp_path / "r.json", tmp_path / "ts.csv"
    osd = lab.pids["osd.0"]
    proc = start_bench("rbd", "--conf", lab.conf, "--keyring", lab.keyring, "--pool", lab.pool, "--image", lab.image,
                       "--procs", 1, "--iodepth", 4, "--duration", "7s", "--op-timeout", "1s", "--quiet",
                       "--json", out, "--timeseries-csv", ts)
    wait_for_workers(proc, 1)
    time.sleep(2.5)
    os.kill(osd, signal.SIGSTOP)
    try:
        time.sleep(3)
    finally:
        os.kill(osd, signal.SIGCONT)
    stdout, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 4, stdout + stderr             # stalls fail the run, as errors do
    rows = [r for r in csv.DictReader(open(ts)) if r["op"] == "write"]
    seconds = [int(r["second"]) for r in rows]
    assert seconds == list(range(len(rows))) and len(rows) >= 7      # every second, zeros included
    quiet = [r for r in rows if r["phase"] == "measured" and int(r["iops"]) == 0]
    assert quiet, "no second without completions while the OSD was stopped"
    assert all(int(r["inflight"]) == 4 for r in quiet)
    assert max(int(r["stalled"]) for r in rows) == 4
    doc = load_json(out)
    write = next(r for r in doc["summary"] if r["op"] == "write")
    assert write["stalled"] >= 4 and write["errors"] == 0
    assert "stalled (in flight longer than --op-timeout 1s): write" in stdout
    assert " stalled" in stdout.splitlines()[0]               # the table has the column


def test_ops_completing_after_the_deadline_are_drain_not_measured(tmp_path):
    out = tmp_path / "r.json"
    r = bench("null", "--procs", 1, "--duration", "2s", "--quiet", "--json", out)
    assert r.returncode == 0, r.stderr
    doc = load_json(out)
    series = doc["timeseries"]
    measured = sum(s["iops"] for s in series if s["phase"] == "measured")
    drained = sum(s["iops"] for s in series if s["phase"] == "drain")
    assert measured == doc["summary"][-1]["ops"]
    assert drained == doc["drain_ops"]
    assert all(s["phase"] != "measured" or s["second"] < 2 for s in series)
    assert sum(w["completed"] for w in doc["workers"]) == measured + drained


# --- 10. lab up on a bad directory, or twice on one ---------------------------------------------

def test_lab_up_refuses_a_file_as_its_directory():
    one_line_error(chopsticks("lab", "up", "--dir", "/etc/hostname", timeout=30), 1, "is not a directory")
    one_line_error(chopsticks("lab", "up", "--dir", "/proc/x/y", timeout=30), 1, "cannot create /proc/x")


def test_a_second_lab_up_on_the_same_directory_is_refused(tmp_path):
    lab_dir = tmp_path / "lab"
    with open(tmp_path / ".lab.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)                       # as a first `lab up` holds it while building
        one_line_error(chopsticks("lab", "up", "--dir", lab_dir, timeout=30), 1, "another `lab up` is running in")
    assert not lab_dir.exists()
