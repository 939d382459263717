"""What the parent shows the world while a run goes: one Tick per second, handed to every
observer (the progress display, the Prometheus endpoint, a cluster host's stream, the cluster
watch). Observers run in the parent only and never touch the workers."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from chopsticks.engine.shm import RunMemory
    from chopsticks.plan import Plan


@dataclass
class Tick:
    """What the parent saw at one second boundary: totals over workers for second `second`.
    Arrays indexed by op are [n_ops]; `cpu_pct` is [n_workers]."""
    second: int                     # seconds since the start, ramp included
    ops: np.ndarray                 # completed without error in that second
    bytes: np.ndarray
    errors: np.ndarray
    stalled: np.ndarray             # ops in flight longer than --op-timeout (gauge, max over the second)
    inflight: np.ndarray            # ops in flight (gauge, max over the second)
    p50_ns: np.ndarray              # from the merged histogram's change since the previous tick
    p99_ns: np.ndarray
    hist_delta: np.ndarray          # uint64[n_ops][NBUCKETS]: that change, all phases
    cpu_pct: np.ndarray             # each worker's CPU use over the second (100 = one core)
    ramp: bool = False
    draining: bool = False          # past the deadline or the stop: only in-flight ops complete


@dataclass
class LiveRun:
    """The run as observers see it once the workers have started."""
    plan: Plan
    op_names: tuple[str, ...]
    mem: RunMemory                  # read-only for observers; valid until finish()
    start_ns: int                   # CLOCK_MONOTONIC of the start
    started_at: float               # wall clock of the start
    stopper: object                 # .request(): drain and stop, as Ctrl+C does

    def request_stop(self) -> None:
        self.stopper.request()


class RunObserver(Protocol):
    def waiting(self, ready: int, total: int, elapsed_s: float) -> None:
        """While workers start (connect, prefill); called about every 10 ms."""

    def started(self, run: LiveRun) -> None:
        """Once, when the start time is set."""

    def tick(self, tick: Tick) -> None:
        """Once a second while the run goes (and while it drains)."""

    def finish(self) -> None:
        """Once, after the workers have stopped (or the start failed), before shared memory goes."""


class Observers:
    """Several observers called as one; an observer may leave out any method."""

    def __init__(self, observers):
        self.items = [o for o in observers if o is not None]

    def _call(self, method: str, *args) -> None:
        for o in self.items:
            fn = getattr(o, method, None)
            if fn is not None:
                fn(*args)

    def waiting(self, ready, total, elapsed_s) -> None:
        self._call("waiting", ready, total, elapsed_s)

    def started(self, run: LiveRun) -> None:
        self._call("started", run)

    def tick(self, tick: Tick) -> None:
        self._call("tick", tick)

    def finish(self) -> None:
        self._call("finish")
