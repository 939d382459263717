"""The cluster's events on the latency timeline: faults injected into the lab during a `bench rbd`
run show as events at their second and in the time series' cluster columns; monitors that stop
answering leave the load running and the watch saying it went blind. Every test restores the lab
(the session's lab is shared by all tests)."""
import csv
import datetime
import time

import pytest

from conftest import run_cli
from helpers.engine_cli import load_json, start_bench, wait_for_progress
from helpers.lab_health import ceph, wait_healthy

pytestmark = pytest.mark.ceph
LATE_S = 4                          # an event shows at most this many seconds after its cause


def run_second(doc: dict, wall_time: float) -> float:
    """Seconds since the run's start of a wall-clock instant."""
    return wall_time - datetime.datetime.fromisoformat(doc["started_at"]).timestamp()


def events_matching(doc: dict, text: str) -> list[dict]:
    return [e for e in doc["cluster_events"] if text in e["event"]]


def test_mark_down_and_noout_show_at_their_second_and_in_the_health_column(lab, tmp_path):
    proc = start_bench("rbd", "--conf", lab.conf, "--keyring", lab.keyring, "--procs", 1, "--duration", "12s",
                       "--no-save", "--progress", "plain", "--json", tmp_path / "r.json",
                       "--timeseries-csv", tmp_path / "ts.csv")
    try:
        wait_for_progress(proc)
        time.sleep(1.5)
        marked = time.time()
        r = run_cli("lab", "fault", "mark-down", "osd.0", "--dir", lab.dir)
        marked = (marked, time.time())          # the command ran somewhere in there
        assert r.exit_code == 0 and "marked osd.0 down" in r.stdout, r.stderr
        time.sleep(3)
        noout = time.time()
        ceph(lab, "osd", "set", "noout")
        noout = (noout, time.time())
        _, err = proc.communicate(timeout=120)
    finally:
        ceph(lab, "osd", "unset", "noout")
        if proc.poll() is None:
            proc.kill()
        wait_healthy(lab)
    assert proc.returncode == 0, err
    doc = load_json(tmp_path / "r.json")
    # at its second: the watch asks once a second; a loaded machine may delay an answer a little
    down = events_matching(doc, "osd.0 down")
    assert down, doc["cluster_events"]
    assert run_second(doc, marked[0]) - 1 <= down[0]["second"] <= run_second(doc, marked[1]) + LATE_S
    noout_set = events_matching(doc, "noout flag(s) set")
    assert noout_set, doc["cluster_events"]
    assert run_second(doc, noout[0]) - 1 <= noout_set[0]["second"] <= run_second(doc, noout[1]) + LATE_S
    assert "event: " in err and "noout" in err                 # shown as it happened, not only at the end
    health = {int(row["second"]): row["health"] for row in csv.DictReader(open(tmp_path / "ts.csv"))}
    assert health[0] == "HEALTH_OK"
    assert health[noout_set[0]["second"]] == "HEALTH_WARN"
    assert doc["summary"][-1]["ops"] > 0


def test_silent_monitors_leave_the_load_running_and_the_watch_blind(lab, tmp_path):
    proc = start_bench("rbd", "--conf", lab.conf, "--keyring", lab.keyring, "--procs", 1, "--duration", "14s",
                       "--no-save", "--progress", "plain", "--json", tmp_path / "r.json")
    try:
        wait_for_progress(proc)
        paused_at = time.time()
        r = run_cli("lab", "fault", "pause", "mon.a", "--for", "7s", "--dir", lab.dir, timeout=60)
        assert r.exit_code == 0 and "resumed mon.a" in r.stdout, r.stderr
        _, err = proc.communicate(timeout=120)
    finally:
        run_cli("lab", "fault", "resume", "mon.a", "--dir", lab.dir)
        if proc.poll() is None:
            proc.kill()
        wait_healthy(lab)
    assert proc.returncode == 0, err
    doc = load_json(tmp_path / "r.json")
    blind = events_matching(doc, "cluster watch blind")
    # blind BLIND_AFTER_S (3 s) after the last answer, which may come up to a second before the pause;
    # an event's second is a whole second (CI once saw the pause at 1.0 s and the event at second 3)
    assert blind and run_second(doc, paused_at) + 1 <= blind[0]["second"] <= run_second(doc, paused_at) + 7
    seen = events_matching(doc, "sees again")
    assert seen and seen[0]["second"] > blind[0]["second"]
    assert doc["cluster_watch_blind_s"] >= 4
    silent = range(blind[0]["second"] - 2, seen[0]["second"])     # the monitors were paused
    answered = {s["second"] for s in doc["cluster_seconds"]}
    assert not answered & set(silent[1:])
    # the load went on while the monitors were silent: ops completed in every one of those seconds
    ops = {row["second"]: row["iops"] for row in doc["timeseries"] if row["op"] == "write"}
    assert all(ops[s] > 0 for s in silent), ops
