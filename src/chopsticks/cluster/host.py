"""What runs on each host: one Dask task that writes the shipped files to a private directory,
runs today's engine with this host's share of the workers, streams every second to the client
and stops by itself when the client, the scheduler or its Dask worker is gone."""
from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
import threading
import time

import numpy as np

from chopsticks.cluster import files, stream
from chopsticks.engine import pool
from chopsticks.engine.shm import Header, TsField, WorkerState
from chopsticks.errors import ChopsticksError
from chopsticks.plan import Plan

CONTROL_POLL_S = 0.05           # until the start: the start instant must arrive well before it
CONTROL_POLL_RUNNING_S = 0.5    # after it: a stop reaches the host within this (+ a tick)
CONTROL_STALE_S = 10.0          # no heartbeat from the client for this long: it is gone, stop
FIRST_OP_POLL_S = 0.0002
HOST_CPUS_ENV = "CHOPSTICKS_HOST_CPUS"   # set by `chopsticks worker --cpus`: the CPUs the engine may use here


def host_cpus() -> list[int]:
    """The CPUs this host's engine workers may use: `chopsticks worker --cpus`, else all usable."""
    usable = pool.usable_cpus()
    chosen = os.environ.get(HOST_CPUS_ENV)
    if not chosen:
        return usable
    return [c for c in usable if c in {int(x) for x in chosen.split(",")}] or usable


@contextlib.contextmanager
def _thread_affinity(cpus: list[int]):
    """Restrict the calling thread (the task's: the engine's workers inherit it) to `cpus`, not
    the Dask worker's other threads; restored after, as Dask reuses the thread."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def control_name(run_id: str) -> str:
    """The Dask Variable through which the client starts and stops the hosts:
    {"start": wall-clock s or None, "stop": bool, "lost": [host indexes the client gave up on],
    "beat": int (changes every ~0.5 s)}."""
    return f"chopsticks-{run_id}-control"


def run_host(plan: Plan, shipped: dict[str, bytes], host: int, run_id: str) -> dict:
    """The host's task: run `plan` (its first_worker/all_workers already set by the client) and
    return {"outcome": RunOutcome, "first_op_at": wall s or None, "stop_reason": str or None}."""
    import multiprocessing

    from distributed import Variable, get_client, get_worker

    if multiprocessing.current_process().daemon:
        raise ChopsticksError("its Dask worker runs in a daemonic process (a nanny's), which cannot start the "
                              "engine's workers: use `chopsticks worker`, or set DASK_DISTRIBUTED__WORKER__DAEMON=False")
    private = tempfile.mkdtemp(prefix="chopsticks-host-")
    try:
        moved = files.write_private(shipped, private)
        cpus = host_cpus()
        plan = dataclasses.replace(plan, target=files.relocate(plan.target, moved),
                                   cpus=tuple(cpus[i % len(cpus)] for i in range(plan.procs)))
        control = _Control(Variable(control_name(run_id), client=get_client()), get_worker(), host)
        link = HostLink(get_worker(), stream.topic(run_id), host, control)
        try:
            with _thread_affinity(host_cpus()):
                out = pool.run(plan, [link], start_gate=link.start_gate)
        finally:
            control.close()
        return {"outcome": out, "first_op_at": link.first_op_at, "stop_reason": control.stop_reason}
    finally:
        shutil.rmtree(private, ignore_errors=True)


class _Control:
    """Reads the client's control Variable in a thread of its own (a read may block while the
    scheduler is unreachable) and says whether to start, to stop, or that the client is gone."""

    def __init__(self, variable, worker, host: int):
        self.variable, self.worker, self.host = variable, worker, host
        self.value = {"start": None, "stop": False, "beat": None}
        self.heard = time.monotonic()       # last time the beat changed
        self.stop_reason: str | None = None
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._poll, name="chopsticks-control", daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        while not self.closed.wait(CONTROL_POLL_S if self.value.get("start") is None else CONTROL_POLL_RUNNING_S):
            try:
                value = self.variable.get(timeout=1)
            except Exception:   # noqa: BLE001 - unreachable scheduler, timeout: staleness decides
                continue
            if value.get("beat") != self.value.get("beat"):
                self.heard = time.monotonic()
            self.value = value

    def should_stop(self) -> str | None:
        """Why this host must stop now, or None."""
        if self.value.get("stop"):
            self.stop_reason = self.stop_reason or "the client asked every host to stop"
        elif self.host in self.value.get("lost", ()):
            self.stop_reason = self.stop_reason or "the client counts this host as lost"
        elif self.worker.status.name != "running":
            self.stop_reason = self.stop_reason or "its Dask worker lost the scheduler"
        elif time.monotonic() - self.heard > CONTROL_STALE_S:
            self.stop_reason = self.stop_reason or f"no word from the client for {CONTROL_STALE_S:.0f}s"
        return self.stop_reason

    def close(self) -> None:
        self.closed.set()


class HostLink:
    """Engine observer on a host: the start barrier, the per-second stream, the stop rules."""

    def __init__(self, worker, topic: str, host: int, control: _Control):
        self.worker, self.topic, self.host, self.control = worker, topic, host, control
        self.run = None
        self.first_op_at: float | None = None
        self.prev_hist = self.prev_errors = None
        self.sampler: threading.Thread | None = None
        self.done = threading.Event()

    def _send(self, msg: dict) -> None:
        self.worker.log_event(self.topic, msg)

    def start_gate(self) -> int:
        """Every worker here is ready: say so, wait for the client's start instant (wall clock,
        hosts NTP-synchronised) and turn it into this host's CLOCK_MONOTONIC."""
        self._send(stream.ready(self.host))
        while True:
            reason = self.control.should_stop()
            if reason:
                raise ChopsticksError(f"not started: {reason}")
            start = self.control.value.get("start")
            if start is not None:
                return time.monotonic_ns() + int((start - time.time()) * 1e9)
            time.sleep(CONTROL_POLL_S / 5)

    def started(self, run) -> None:
        self.run = run
        self.prev_hist = np.zeros(run.mem.hist.shape[1:], dtype=np.uint64)
        self.prev_errors = np.zeros(run.mem.errors.shape[1:], dtype=np.int64)
        self.sampler = threading.Thread(target=self._sample_first_op, name="chopsticks-first-op", daemon=True)
        self.sampler.start()

    def _sample_first_op(self) -> None:
        """When the first worker here began its loop (it marks itself RUNNING just before)."""
        states = self.run.mem.header[:, Header.STATE]
        while not self.done.is_set():
            if np.any(states >= WorkerState.RUNNING):
                self.first_op_at = time.time()
                self._send(stream.first_op(self.host, self.first_op_at))
                return
            time.sleep(FIRST_OP_POLL_S)

    def tick(self, tick) -> None:
        mem = self.run.mem
        rows = mem.ts[:, tick.second]
        ts = rows.sum(axis=0)
        ts[:, TsField.LAT_MAX_NS] = rows[:, :, TsField.LAT_MAX_NS].max(axis=0)
        hist, errors = mem.hist.sum(axis=0), mem.errors.sum(axis=0)
        self._send(stream.second(self.host, tick.second, ts, hist - self.prev_hist, errors - self.prev_errors,
                                 tick.cpu_pct, tick.ramp, tick.draining))
        self.prev_hist, self.prev_errors = hist, errors
        if self.control.should_stop():
            self.run.request_stop()

    def finish(self) -> None:
        self.done.set()
        if self.sampler is not None:
            self.sampler.join()
        self._send(stream.done(self.host))
