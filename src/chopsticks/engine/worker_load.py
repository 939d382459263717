"""How much of each second a worker wanted its CPU: an observer reading the kernel's scheduler
statistics (/proc/PID/task/TID/schedstat: ns running, ns runnable but waiting for a CPU) of every
thread of every worker.

CPU time alone (Tick.cpu_pct) reads low on a shared host although the worker never waited for
Ceph. A worker's threads share the one CPU it is pinned to, so the time at least one of them was
runnable is at least their summed running time, and at least any one thread's running + waiting
time: the larger of the two (`busy`) is a lower bound, never more than the truth. Summing the
waits instead would count twice the moments several threads wait at once."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from chopsticks.engine.live import LiveRun, Tick
from chopsticks.engine.shm import Header


def _thread_times(pid: int) -> dict[int, tuple[int, int]]:
    """{thread id: (ns on a CPU, ns runnable but waiting for one)} of a process ({} once gone)."""
    times = {}
    try:
        tids = [int(t.name) for t in Path(f"/proc/{pid}/task").iterdir()]
    except (OSError, ValueError):
        return times
    for tid in tids:
        try:
            run_ns, wait_ns, _ = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()
        except (OSError, ValueError):
            continue
        times[tid] = (int(run_ns), int(wait_ns))
    return times


class WorkerLoad:
    """Per measured second (ramp and drain left out) and worker, as fractions of the second: the
    threads' summed running time (`ran`) and the lower bound of the time one was runnable (`busy`)."""

    def __init__(self):
        self.pids: list[int] = []
        self.last: list[dict[int, tuple[int, int]]] = []
        self.last_ns = 0
        self.ran: list[np.ndarray] = []
        self.busy: list[np.ndarray] = []

    def started(self, run: LiveRun) -> None:
        self.pids = [int(pid) for pid in run.mem.header[:, Header.PID]]
        self.last = [_thread_times(pid) for pid in self.pids]
        self.last_ns = time.monotonic_ns()

    def tick(self, tick: Tick) -> None:
        now_ns = time.monotonic_ns()
        seconds = max(1e-3, (now_ns - self.last_ns) / 1e9)
        ran, busy = np.zeros(len(self.pids)), np.zeros(len(self.pids))
        for i, pid in enumerate(self.pids):
            times = _thread_times(pid)
            for tid, (run_ns, wait_ns) in times.items():
                run0, wait0 = self.last[i].get(tid, (0, 0))
                ran[i] += (run_ns - run0) / 1e9 / seconds
                busy[i] = max(busy[i], (run_ns - run0 + wait_ns - wait0) / 1e9 / seconds)
            busy[i] = max(busy[i], ran[i])
            self.last[i] = times or self.last[i]
        self.last_ns = now_ns
        if not (tick.ramp or tick.draining):
            self.ran.append(ran)
            self.busy.append(busy)

    def averages(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(ran, busy) per worker averaged over the measured seconds; None if none was sampled
        or the kernel keeps no scheduler statistics."""
        if not self.ran or not any(self.last):
            return None
        return np.mean(self.ran, axis=0), np.mean(self.busy, axis=0)
