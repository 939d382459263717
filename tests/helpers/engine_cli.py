"""Running `chopsticks bench` as a user does (a real process), for the engine tests."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

CHOPSTICKS = [sys.executable, "-m", "chopsticks"]


def chopsticks(*args, timeout=120, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([*CHOPSTICKS, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=env)


def bench(*args, timeout=120, env=None) -> subprocess.CompletedProcess:
    return chopsticks("bench", *args, timeout=timeout, env=env)


def start_bench(*args) -> subprocess.Popen:
    return subprocess.Popen([*CHOPSTICKS, "bench", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def worker_pids(parent_pid: int) -> list[int]:
    """PIDs of the engine's worker processes: the parent's children (forked, or spawned when the
    parent has other threads), not a multiprocessing resource tracker."""
    pids = []
    for child in Path(f"/proc/{parent_pid}/task/{parent_pid}/children").read_text().split():
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in cmdline:
            pids.append(int(child))
    return pids


def wait_for_workers(proc: subprocess.Popen, n: int, timeout=60.0) -> list[int]:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        pids = worker_pids(proc.pid)
        if len(pids) == n:
            return pids
        time.sleep(0.1)
    raise AssertionError(f"{n} workers did not appear")


def wait_for_progress(proc: subprocess.Popen) -> str:
    """The first per-second progress line ("[   5s] ..."): all workers are running by then."""
    for line in proc.stderr:
        if re.match(r"\[\s*\d+s", line):
            return line
    raise AssertionError("the run ended before any progress line")


def interrupt_once_running(proc: subprocess.Popen) -> tuple[int, str, str]:
    """Ctrl+C after the first progress line. (A terminal sends SIGINT to the whole process group;
    workers ignore it, so the parent alone is what matters.)"""
    wait_for_progress(proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def kill_one_worker_once_running(proc: subprocess.Popen, n_workers: int) -> int:
    """SIGKILL one worker after the first progress line (so all workers are past their start)."""
    pids = wait_for_workers(proc, n_workers)
    wait_for_progress(proc)
    os.kill(pids[-1], signal.SIGKILL)
    return pids[-1]


def load_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def blocks_checked(message: str) -> int:
    """The blocks a worker's --verify result line says it checked ("... 2,048 blocks checked ...")."""
    return int(message.split(" blocks checked")[0].split()[-1].replace(",", ""))


def checked_blocks(doc) -> int:
    """The blocks every worker of a --verify run checked."""
    return sum(blocks_checked(w["message"]) for w in doc["workers"])
