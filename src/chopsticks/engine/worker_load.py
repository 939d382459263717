"""How busy each worker kept its CPU, second by second: an observer reading the kernel's
scheduler statistics (/proc/PID/task/TID/schedstat: ns running, ns waiting for a CPU) of every
thread of every worker.

A worker is pinned to one CPU with all its threads, so running + waiting near 100 % of a second
means its CPU was the limit that second, whether the worker used it all or other processes
took part of it; CPU time alone (Tick.cpu_pct) reads low on a shared host although the worker
never waited for Ceph."""
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
    """Per measured second (ramp and drain left out) and worker: the fraction of the second its
    threads ran (`ran`) and waited for a CPU (`queued`), summed over threads."""

    def __init__(self):
        self.pids: list[int] = []
        self.last: list[dict[int, tuple[int, int]]] = []
        self.last_ns = 0
        self.ran: list[np.ndarray] = []
        self.queued: list[np.ndarray] = []

    def started(self, run: LiveRun) -> None:
        self.pids = [int(pid) for pid in run.mem.header[:, Header.PID]]
        self.last = [_thread_times(pid) for pid in self.pids]
        self.last_ns = time.monotonic_ns()

    def tick(self, tick: Tick) -> None:
        now_ns = time.monotonic_ns()
        seconds = max(1e-3, (now_ns - self.last_ns) / 1e9)
        running, waiting = np.zeros(len(self.pids)), np.zeros(len(self.pids))
        for i, pid in enumerate(self.pids):
            times = _thread_times(pid)
            for tid, (run_ns, wait_ns) in times.items():
                run0, wait0 = self.last[i].get(tid, (0, 0))
                running[i] += (run_ns - run0) / 1e9 / seconds
                waiting[i] += (wait_ns - wait0) / 1e9 / seconds
            self.last[i] = times or self.last[i]
        self.last_ns = now_ns
        if not (tick.ramp or tick.draining):
            self.ran.append(running)
            self.queued.append(waiting)

    def averages(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(running, waiting) per worker averaged over the measured seconds; None if none was
        sampled or the kernel keeps no scheduler statistics."""
        if not self.ran or not any(self.last):
            return None
        return np.mean(self.ran, axis=0), np.mean(self.queued, axis=0)
