"""The Python-thread paths (`chopsticks run`, `bench s3` with a Python driver) against an RGW that
stops answering (SIGSTOP) or dies (SIGKILL) mid-run: the run still ends by its deadline +
--op-timeout + a grace, what was in flight is counted as stalled, the result is whole (not
partial), and a cleanup that could not finish says so in one line.

Pausing RGW (SIGSTOP) runs on the session's lab, resumed before the test ends (never point
CHOPSTICKS_LAB_DIR at a lab other people use); killing it runs on a lab of its own, since a
restarted RGW has a new PID that other tests would read from the session's lab."""
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import boto3
import pytest

from helpers.engine_cli import CHOPSTICKS, load_json, wait_for_progress

from chopsticks.lab import LabInfo, down, fault, up

RGW = "client.rgw.lab"
DURATION_S, OP_TIMEOUT_S = 7, 2
# Deadline + op-timeout, then 0.5 s for calls in flight and up to 3 s of cleanup (backends/threads.py);
# the engine kills workers at 5 s past deadline + op-timeout, which would make the result partial.
BOUND_S = DURATION_S + OP_TIMEOUT_S + 5


def wait_rgw_answers(lab, timeout_s=60.0) -> None:
    s3 = boto3.client("s3", endpoint_url=lab.s3_endpoint, aws_access_key_id=lab.access_key,
                      aws_secret_access_key=lab.secret_key, region_name="us-east-1")
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            s3.head_bucket(Bucket=lab.bucket)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture
def rgw(lab):
    """The session lab's RGW pid, for a test that pauses it; resumed and answering afterwards."""
    yield LabInfo.load(lab.dir).pids[RGW]
    fault.resume(LabInfo.load(lab.dir), RGW)
    wait_rgw_answers(lab)


@pytest.fixture
def own_lab(lab, tmp_path_factory):
    """A lab whose RGW a test may kill (after the session's, so Ceph is there)."""
    lab_dir = tmp_path_factory.mktemp("rgw-fault-lab")
    info, _ = up(lab_dir, log=lambda message: None)
    try:
        yield info
    finally:
        down(lab_dir)


def boto3_config(tmp_path, lab):
    path = tmp_path / "s3.yaml"
    path.write_text(f"endpoint: {lab.s3_endpoint}\naccess_key: {lab.access_key}\nsecret_key: {lab.secret_key}\n"
                    f"bucket: {lab.bucket}\ndriver: boto3\n")
    return path


def run_with_rgw_stopped(rgw_pid: int, *args, signum=signal.SIGSTOP) -> tuple[subprocess.CompletedProcess, float]:
    """Start chopsticks, stop RGW 3 s after its first progress line and wait (RGW stays stopped);
    the seconds from the start of the run to the exit."""
    proc = subprocess.Popen([*CHOPSTICKS, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = wait_for_progress(proc)
        started = time.monotonic() - int(re.match(r"\[\s*(\d+)s", line).group(1))
        time.sleep(3)
        os.kill(rgw_pid, signum)
        out, err = proc.communicate(timeout=120)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def check_bounded(r, took, out):
    assert took < BOUND_S, f"took {took:.1f}s: {r.stderr}"
    assert r.returncode == 4, r.stdout + r.stderr                   # stalled ops, not a partial result (3)
    doc = load_json(out)
    assert doc["partial"] is False and all(w["state"] == "done" for w in doc["workers"]), doc["notes"]
    assert doc["summary"][-1]["stalled"] > 0 and doc["summary"][-1]["ops"] > 0
    return doc


def test_a_scenario_run_is_bounded_when_rgw_stops_answering(lab, rgw, tmp_path):
    out = tmp_path / "r.json"
    r, took = run_with_rgw_stopped(rgw, "run", "-f", "s3_small_objects", "--workload-config",
                                   boto3_config(tmp_path, lab), "--headless", "-u", 4, "-r", 20,
                                   "-t", f"{DURATION_S}s", "--op-timeout", f"{OP_TIMEOUT_S}s", "--json", out,
                                   "--no-save")
    doc = check_bounded(r, took, out)
    stalled = {row["op"]: row["stalled"] for row in doc["summary"][:-1] if row["stalled"]}
    assert set(stalled) <= {"upload", "download", "head"} and sum(stalled.values()) == 4     # each user's stuck call


def clients_left(lab) -> list[str]:
    """Command lines of processes still talking to the lab's gateway from a client binary (s5cmd)."""
    left = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith(b"s5cmd") and lab.s3_endpoint.encode() in argv:
            left.append(b" ".join(argv).decode(errors="replace"))
    return left


@pytest.mark.parametrize("driver", ["boto3", "s5cmd"])
def test_a_python_driver_bench_is_bounded_and_its_cleanup_says_what_is_left(lab, rgw, tmp_path, driver):
    out = tmp_path / "r.json"
    r, took = run_with_rgw_stopped(rgw, "bench", "s3", "--workload-config", boto3_config(tmp_path, lab),
                                   "--driver", driver, "--op", "mixed", "--procs", 1, "--concurrency", 4, "--objects", 3,
                                   "-t", f"{DURATION_S}s", "--op-timeout", f"{OP_TIMEOUT_S}s", "--json", out,
                                   "--no-save")
    doc = check_bounded(r, took, out)
    assert doc["summary"][-1]["stalled"] == 4                       # each client thread's call in flight
    lines = [line for line in r.stderr.splitlines() if "cleanup" in line]
    assert len(lines) == 1 and "cleanup of worker 0:" in lines[0] and "were not deleted: no reply in time" in lines[0]
    time.sleep(1)
    assert clients_left(lab) == []      # an s5cmd left waiting on the gateway dies with its worker


def test_after_rgw_died_cleanup_and_set_up_fail_in_one_line(own_lab, tmp_path):
    """RGW killed mid-run: the cleanup says in one line why objects are left; a new run's set-up
    fails in one line."""
    config = boto3_config(tmp_path, own_lab)
    out = tmp_path / "r.json"
    r, took = run_with_rgw_stopped(own_lab.pids[RGW], "bench", "s3", "--workload-config", config, "--op", "put", "--procs", 1,
                                   "--concurrency", 2, "-t", f"{DURATION_S}s", "--op-timeout", f"{OP_TIMEOUT_S}s",
                                   "--json", out, "--no-save", signum=signal.SIGKILL)
    assert r.returncode == 4, r.stdout + r.stderr                   # the puts after RGW died failed
    lines = [line for line in r.stderr.splitlines() if "cleanup" in line]
    assert len(lines) == 1 and "were not deleted: connection: EndpointConnectionError" in lines[0], r.stderr
    again = subprocess.run([*CHOPSTICKS, "bench", "s3", "--workload-config", str(config), "-t", "2s", "--no-save"],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 1
    assert again.stderr.splitlines() == [again.stderr.strip()]      # one line: no driver log line, no "further errors"
    assert again.stderr.startswith(f"chopsticks: error: S3 bucket '{own_lab.bucket}' at {own_lab.s3_endpoint} is not "
                                   "usable: connection: ")
