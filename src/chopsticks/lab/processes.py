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


def stop(pids: list[int], conf: Path, grace_s: float | None = None) -> None:
    """Stop those of `pids` that are this lab's processes, one after the other in the order given.

    Each gets SIGTERM, grace_s (default STOP_GRACE_S) to exit, then SIGKILL. One at a time, because
    a daemon whose mon is already gone can take seconds to give up on it.
    """
    for pid in pids:
        if not is_lab_process(pid, conf):
            continue
        _signal(pid, signal.SIGTERM)
        if not wait_exited(pid, conf, STOP_GRACE_S if grace_s is None else grace_s):
            _signal(pid, signal.SIGKILL)
            wait_exited(pid, conf, KILL_WAIT_S)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def wait_exited(pid: int, conf: Path, timeout_s: float) -> bool:
    """Wait until `pid` has exited; False if it has not at the timeout."""
    deadline = time.monotonic() + timeout_s
    while not _exited(pid, conf):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def _exited(pid: int, conf: Path) -> bool:
    """True once `pid` is no lab process that still holds its files. An exiting process loses its
    cmdline before it closes its files (and their locks: the pid file a restart must take)."""
    if is_lab_process(pid, conf):
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return stat.rsplit(b")", 1)[1].split()[0] in (b"Z", b"X") or cmdline != b""   # a zombie, or the PID reused
