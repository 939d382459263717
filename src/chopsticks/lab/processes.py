"""The lab's daemons as processes: which recorded PIDs are still ours, and stopping exactly those."""
import os
import signal
import time
from pathlib import Path

STOP_GRACE_S = 10.0
KILL_WAIT_S = 5.0


def is_lab_process(pid: int, conf: Path) -> bool:
    """True if `pid` is a live process started with this lab's ceph.conf.

    Matching the conf path in its argv guards against PID reuse; a zombie has an empty cmdline.
    """
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return str(conf).encode() in argv


def read_pid_files(run_dir: Path) -> dict[str, int]:
    """The PIDs the daemons wrote into run_dir (`<name>.pid`), by Ceph entity name."""
    pids = {}
    for pid_file in sorted(run_dir.glob("*.pid")):
        text = pid_file.read_text().strip()
        if text.isdigit():
            pids[pid_file.stem] = int(text)
    return pids


def stop(pids: list[int], conf: Path) -> None:
    """Stop those of `pids` that are this lab's processes, one after the other in the order given.

    Each gets SIGTERM, STOP_GRACE_S to exit, then SIGKILL. One at a time, because a daemon whose mon
    is already gone can take seconds to give up on it.
    """
    for pid in pids:
        if not is_lab_process(pid, conf):
            continue
        _signal(pid, signal.SIGTERM)
        if not _wait_gone(pid, conf, STOP_GRACE_S):
            _signal(pid, signal.SIGKILL)
            _wait_gone(pid, conf, KILL_WAIT_S)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _wait_gone(pid: int, conf: Path, timeout_s: float) -> bool:
    """Wait until `pid` is no longer a lab process; False if it still is at the timeout."""
    deadline = time.monotonic() + timeout_s
    while is_lab_process(pid, conf):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True
