"""`chopsticks lab fault`: inject faults into the lab's daemons, to see in the numbers what a
failure looks like. Daemons are named as `lab status` names them (mon.a, mgr.x, osd.0,
client.rgw.lab); only the lab's own recorded PIDs are ever signalled.

pause/resume are SIGSTOP/SIGCONT (a hung daemon: its peers notice only by timeouts); kill is
SIGKILL; restart stops the daemon (SIGTERM) and starts it again with the command the lab started
it with; mark-down tells the monitors an OSD is down (`ceph osd down`) while it keeps running, so
it soon reports itself up again.
"""
import dataclasses
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable

from chopsticks.errors import ChopsticksError
from chopsticks.lab.cluster import _run   # a Ceph tool without the caller's CEPH_* env, bounded
from chopsticks.lab.processes import is_lab_process, read_pid_files, stop, wait_exited
from chopsticks.lab.state import LabInfo

# The binary of each daemon type; every Ceph daemon takes its entity name with -n.
DAEMON_BINARIES = {"mon": "ceph-mon", "mgr": "ceph-mgr", "osd": "ceph-osd", "client.rgw": "radosgw"}
START_TIMEOUT_S = 60
OSD_STOP_GRACE_S = 120              # a memstore OSD writes all its objects to disk as it stops
CEPH_TIMEOUT_S = 30


def _binary(name: str) -> str:
    return DAEMON_BINARIES["client.rgw" if name.startswith("client.rgw.") else name.split(".", 1)[0]]


def _recorded_pid(info: LabInfo, name: str) -> int:
    if name not in info.pids:
        raise ChopsticksError(f"no daemon '{name}' in the lab in {info.dir} (daemons: {', '.join(info.pids)})")
    return info.pids[name]


def running_pid(info: LabInfo, name: str) -> int:
    """The PID of the lab's daemon `name`, or a one-line error if it is not running."""
    pid = _recorded_pid(info, name)
    if not is_lab_process(pid, info.conf):
        raise ChopsticksError(f"{name} is not running (pid {pid} is gone); `chopsticks lab fault restart {name}` starts it")
    return pid


def pause(info: LabInfo, name: str) -> int:
    """SIGSTOP the daemon; returns its PID."""
    pid = running_pid(info, name)
    os.kill(pid, signal.SIGSTOP)
    return pid


def resume(info: LabInfo, name: str) -> int:
    """SIGCONT the daemon; returns its PID."""
    pid = running_pid(info, name)
    os.kill(pid, signal.SIGCONT)
    return pid


def kill(info: LabInfo, name: str) -> int:
    """SIGKILL the daemon and wait until it is gone; returns its PID. The lab's OSD keeps its data
    in memory (memstore): killed, it would lose every object, so it is refused."""
    if name.startswith("osd."):
        raise ChopsticksError(f"{name} keeps the lab's data in memory (memstore): killing it loses every object; "
                              f"use pause, restart or mark-down")
    pid = running_pid(info, name)
    os.kill(pid, signal.SIGCONT)        # a paused daemon would linger as a stopped zombie-to-be
    os.kill(pid, signal.SIGKILL)
    if not wait_exited(pid, info.conf, 10):
        raise ChopsticksError(f"{name} (pid {pid}) did not die within 10 s of SIGKILL")
    return pid


def restart(info: LabInfo, name: str) -> tuple[LabInfo, int]:
    """Stop the daemon if it runs (SIGTERM, then SIGKILL after a grace), start it again and wait
    until its cluster sees it; returns the lab with the new PID recorded, and that PID."""
    pid = _recorded_pid(info, name)
    epoch = _osdmap_epoch(info) if name.startswith("osd.") else 0
    if is_lab_process(pid, info.conf):
        if name.startswith("osd."):
            # A memstore OSD saves its objects only on a full shutdown, not on the fast one
            # (osd_fast_shutdown, on by default), and would come back empty.
            _ceph(info, "config", "set", name, "osd_fast_shutdown", "false")
        os.kill(pid, signal.SIGCONT)    # a paused daemon cannot act on SIGTERM
        stop([pid], info.conf, OSD_STOP_GRACE_S if name.startswith("osd.") else None)
    log_dir = info.dir / "log"
    with open(log_dir / f"{name}.out", "ab") as out:
        proc = _run([_binary(name), "-c", str(info.conf), "-n", name], CEPH_TIMEOUT_S, stdout=out,
                    stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise ChopsticksError(f"{name} did not start (exit {proc.returncode}); see {log_dir / f'{name}.log'}")
    run_dir = info.dir / "run"
    _wait(lambda: is_lab_process(read_pid_files(run_dir).get(name, 0), info.conf), START_TIMEOUT_S,
          f"{name} to write its pid file")
    # Every daemon's PID as its pid file has it now: lab.json heals from an earlier failed restart.
    running = read_pid_files(run_dir)
    info = dataclasses.replace(info, pids={n: running.get(n, pid) for n, pid in info.pids.items()})
    info.save()
    new_pid = info.pids[name]
    if name.startswith("osd."):
        osd_id = int(name.split(".")[1])
        _wait(lambda: _up_since(info, osd_id) > epoch, START_TIMEOUT_S, f"{name} to be up in the osdmap again")
        _wait(lambda: _pgs_not_active(info) == 0, START_TIMEOUT_S, f"the PGs of {name} to be active again")
        _ceph(info, "config", "rm", name, "osd_fast_shutdown")      # as the lab had it (a fast `lab down`)
    elif name.startswith("mon."):
        _wait(lambda: _ceph(info, "health", check=False).returncode == 0, START_TIMEOUT_S, f"{name} to answer")
    return info, new_pid


def mark_down(info: LabInfo, name: str) -> None:
    """`ceph osd down N`: the monitors mark the OSD down while it runs; it reports itself up again
    once it notices."""
    match = re.fullmatch(r"osd\.(\d+)", name)
    if not match:
        raise ChopsticksError(f"mark-down takes an OSD (osd.0), got '{name}'")
    running_pid(info, name)
    _ceph(info, "osd", "down", match.group(1))


def _osd_dump(info: LabInfo) -> dict:
    proc = _ceph(info, "osd", "dump", "--format", "json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else {}


def _osdmap_epoch(info: LabInfo) -> int:
    return _osd_dump(info).get("epoch", 0)


def _pgs_not_active(info: LabInfo) -> int:
    """PGs not active, or stale (their OSD has not reported them since it came back); -1 unknown."""
    proc = _ceph(info, "status", "--format", "json", check=False)
    if proc.returncode != 0:
        return -1
    states = json.loads(proc.stdout).get("pgmap", {}).get("pgs_by_state", [])
    return sum(s["count"] for s in states if "active" not in s["state_name"].split("+")
               or "stale" in s["state_name"].split("+"))


def _up_since(info: LabInfo, osd_id: int) -> int:
    """The osdmap epoch from which the OSD is up (0 while it is down)."""
    for osd in _osd_dump(info).get("osds", []):
        if osd["osd"] == osd_id and osd["up"]:
            return osd["up_from"]
    return 0


def _ceph(info: LabInfo, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    argv = ["ceph", "-c", str(info.conf), "--connect-timeout", "10", *args]
    proc = _run(argv, CEPH_TIMEOUT_S, capture_output=True, text=True)
    if check and proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
        raise ChopsticksError(f"`ceph {' '.join(args)}` failed (exit {proc.returncode}): {detail}")
    return proc


def _wait(done: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() >= deadline:
            raise ChopsticksError(f"gave up waiting {timeout_s:.0f} s for {what}")
        time.sleep(0.1)
