"""Spawn one pinned worker process per CPU slot, start them together, watch them once a second,
stop them (deadline, Ctrl+C, dying worker) and hand back everything they recorded."""
from __future__ import annotations

import multiprocessing as mp
import os
import resource
import signal
import time
from dataclasses import dataclass, field

import numpy as np

from chopsticks.engine.progress import ProgressLine, Tick
from chopsticks.engine.shm import Control, Header, RunMemory, ShmLayout, TsField, WorkerState
from chopsticks.errors import ChopsticksError
from chopsticks.metrics.histogram import percentiles_ns
from chopsticks.plan import Plan

NO_DEADLINE = 2**63 - 1
START_DELAY_NS = 20_000_000         # workers see the start time before it arrives
DRAIN_GRACE_S = 10.0                # after a stop: how long in-flight ops may take to drain


@dataclass
class RunOutcome:
    plan: Plan
    info: dict                      # from Target.prepare (fsid, image sizes, ...)
    op_names: tuple[str, ...]
    hist: np.ndarray                # uint64[n_workers][2][n_ops][NBUCKETS]
    ts: np.ndarray                  # int64[n_workers][secs][n_ops][TS_FIELDS], secs run so far
    errors: np.ndarray              # int64[n_workers][2][n_ops][ERR_CODES]
    tick_p50_ns: np.ndarray         # float[secs][n_ops], NaN where not sampled
    tick_p99_ns: np.ndarray
    workers: list[dict]
    start_ns: int
    ramp_end_ns: int
    end_ns: int
    started_at: float               # wall clock (epoch s) of the start
    partial: bool = False
    interrupted: bool = False       # Ctrl+C (partial too)
    notes: list[str] = field(default_factory=list)

    @property
    def measured_s(self) -> float:
        return max(0.0, (self.end_ns - self.ramp_end_ns) / 1e9)


def usable_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def assign_cpus(procs: int) -> tuple[tuple[int, ...], bool]:
    """Round-robin over the CPUs this process may use; True when CPUs are oversubscribed."""
    cpus = usable_cpus()
    return tuple(cpus[i % len(cpus)] for i in range(procs)), procs > len(cpus)


def _worker_main(plan: Plan, index: int, layout: ShmLayout, shm_name: str) -> None:
    """Body of worker `index`: pin, open the target, wait for the start, run the loop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)        # the parent decides when to stop
    mem = RunMemory.attach(layout, shm_name)
    hdr = mem.header[index]
    hdr[Header.PID] = os.getpid()
    session = None
    try:
        try:
            os.sched_setaffinity(0, {plan.cpus[index]})
            hdr[Header.CPU] = plan.cpus[index]
        except OSError:
            hdr[Header.CPU] = -1
        session = plan.target.open_worker(plan, index)
        hdr[Header.STATE] = WorkerState.READY
        while mem.control[Control.START_NS] == 0 and mem.control[Control.STOP] == 0:
            time.sleep(0.001)
        if mem.control[Control.STOP]:
            hdr[Header.STATE] = WorkerState.DONE
            return
        start_ns = int(mem.control[Control.START_NS])
        time.sleep(max(0.0, (start_ns - time.monotonic_ns()) / 1e9))
        hdr[Header.STATE] = WorkerState.RUNNING
        ramp_end_ns = start_ns + plan.ramp_s * 1_000_000_000
        spec = {
            "n_ops": layout.n_ops, "max_secs": layout.max_secs, "start_ns": start_ns, "ramp_end_ns": ramp_end_ns,
            "deadline_ns": NO_DEADLINE if plan.duration_s is None else ramp_end_ns + int(plan.duration_s * 1e9),
            "ops_limit": plan.ops_limit(), "op_timeout_ns": int(plan.op_timeout_s * 1e9),
            "iodepth": plan.iodepth, "seed": (plan.seed * 1_000_003 + index) & (2**64 - 1),
        }
        hist, ts, errors = mem.worker_rows(index)
        before = resource.getrusage(resource.RUSAGE_SELF)
        out = session.run(hist, ts, errors, mem.control[Control.STOP:Control.STOP + 1], spec)
        after = resource.getrusage(resource.RUSAGE_SELF)
        # CPU of the whole worker (librados/librbd threads included) while it ran, not while it started.
        hdr[Header.UTIME_US] = int((after.ru_utime - before.ru_utime) * 1e6)
        hdr[Header.STIME_US] = int((after.ru_stime - before.ru_stime) * 1e6)
        hdr[Header.SUBMITTED], hdr[Header.COMPLETED] = out["submitted"], out["completed"]
        if out["fatal_errno"]:
            mem.set_message(index, f"stopped early: {os.strerror(out['fatal_errno'])}")
            hdr[Header.STATE] = WorkerState.FAILED
        else:
            hdr[Header.STATE] = WorkerState.DONE
    except BaseException as e:  # noqa: BLE001 - whatever happened, the parent must learn why
        mem.set_message(index, str(e) if isinstance(e, ChopsticksError) else f"{type(e).__name__}: {e}")
        hdr[Header.STATE] = WorkerState.FAILED
    finally:
        hdr[Header.END_NS] = time.monotonic_ns()
        if session is not None:
            session.close()
        mem.close()


class _Stopper:
    """SIGINT handler: the first Ctrl+C asks workers to drain, the second kills them."""

    def __init__(self, mem: RunMemory):
        self.mem, self.requested_ns, self.force = mem, 0, False

    def __call__(self, signum, frame) -> None:
        if self.requested_ns:
            self.force = True
        self.request()

    def request(self) -> None:
        self.mem.control[Control.STOP] = 1
        if not self.requested_ns:
            self.requested_ns = time.monotonic_ns()


def run(plan: Plan, progress: ProgressLine | None = None) -> RunOutcome:
    """Run plan to completion (or interruption) and return what the workers recorded."""
    info = plan.target.prepare(plan)
    op_names = tuple(plan.target.op_names)
    layout = ShmLayout(plan.procs, len(op_names), plan.max_secs)
    mem = RunMemory.create(layout)
    stopper = _Stopper(mem)
    previous = signal.signal(signal.SIGINT, stopper)
    ctx = mp.get_context("spawn")      # librados must not be inherited across fork
    procs = [ctx.Process(target=_worker_main, args=(plan, i, layout, mem.name), name=f"chopsticks-worker-{i}",
                         daemon=True) for i in range(plan.procs)]
    started = []
    try:
        for p in procs:
            p.start()
            started.append(p)
        _wait_ready(mem, procs, stopper, progress)
        start_ns = time.monotonic_ns() + START_DELAY_NS
        started_at = time.time() + START_DELAY_NS / 1e9
        mem.control[Control.START_NS] = start_ns
        ramp_end_ns = start_ns + plan.ramp_s * 1_000_000_000
        deadline_ns = NO_DEADLINE if plan.duration_s is None else ramp_end_ns + int(plan.duration_s * 1e9)
        tick_p50, tick_p99, notes = _watch(plan, mem, procs, stopper, start_ns, deadline_ns, progress)
        return _collect(plan, info, op_names, mem, procs, stopper, start_ns, ramp_end_ns, deadline_ns,
                        started_at, tick_p50, tick_p99, notes)
    finally:
        signal.signal(signal.SIGINT, previous)
        try:
            for p in started:
                if p.is_alive():
                    p.kill()
                p.join(timeout=5)
        finally:
            mem.close()


def _wait_ready(mem: RunMemory, procs, stopper: _Stopper, progress: ProgressLine | None) -> None:
    """Until every worker has opened its target (connect, prefill); a worker that fails first
    fails the run. Slow starts are shown, never cut short: Ctrl+C ends the wait."""
    t0 = time.monotonic()
    while True:
        states = mem.header[:, Header.STATE]
        for i, p in enumerate(procs):
            if states[i] == WorkerState.FAILED or (not p.is_alive() and states[i] != WorkerState.READY):
                stopper.request()
                why = mem.get_message(i) or f"exited with {_exit_text(p.exitcode)}"
                raise ChopsticksError(f"worker {i} could not start: {why}")
        ready = int(np.count_nonzero(states == WorkerState.READY))
        if ready == len(procs):
            return
        if stopper.requested_ns:
            raise ChopsticksError("interrupted before the workers started")
        if progress is not None:
            progress.waiting(ready, len(procs), time.monotonic() - t0)
        time.sleep(0.01)


def _watch(plan, mem, procs, stopper, start_ns, deadline_ns, progress):
    """Once a second: sample the merged histogram and the time series; notice dead workers;
    enforce the drain grace. Returns per-second p50/p99 samples and notes for the result."""
    n_ops = mem.layout.n_ops
    p50 = np.full((mem.layout.max_secs, n_ops), np.nan)
    p99 = np.full((mem.layout.max_secs, n_ops), np.nan)
    prev = np.zeros((n_ops, mem.hist.shape[-1]), dtype=np.uint64)
    notes, reported = [], set()
    next_tick, second = start_ns + 1_000_000_000, 0
    grace_ns = int((plan.op_timeout_s + DRAIN_GRACE_S) * 1e9)
    while any(p.is_alive() for p in procs):
        time.sleep(min(0.1, max(0.0, (next_tick - time.monotonic_ns()) / 1e9)))
        now = time.monotonic_ns()
        for i, p in enumerate(procs):
            if i not in reported and not p.is_alive() and mem.header[i, Header.STATE] != WorkerState.DONE:
                reported.add(i)
                why = mem.get_message(i) or f"died ({_exit_text(p.exitcode)})"
                notes.append(f"worker {i} (pid {mem.header[i, Header.PID]}, cpu {mem.header[i, Header.CPU]}): {why}")
        if now >= next_tick and second < mem.layout.max_secs:
            cum = mem.hist.sum(axis=(0, 1))
            delta = cum - prev
            prev = cum
            for op in range(n_ops):
                p50[second, op], p99[second, op] = percentiles_ns(delta[op], (50.0, 99.0))
            if progress is not None:
                row = mem.ts[:, second].sum(axis=0)
                progress.tick(Tick(second, row[:, TsField.OPS], row[:, TsField.BYTES], row[:, TsField.ERRORS],
                                   p50[second], p99[second], ramp=second < plan.ramp_s))
            second += 1
            next_tick += 1_000_000_000
        stop_at = min(deadline_ns, stopper.requested_ns or NO_DEADLINE)
        if stopper.force or (stop_at != NO_DEADLINE and now > stop_at + grace_ns):
            for i, p in enumerate(procs):
                if p.is_alive():
                    p.kill()
                    reported.add(i)
                    notes.append(f"worker {i}: killed, its in-flight ops did not complete within "
                                 f"{grace_ns / 1e9:.0f}s of the stop")
            break
    return p50, p99, notes


def _collect(plan, info, op_names, mem, procs, stopper, start_ns, ramp_end_ns, deadline_ns, started_at,
             tick_p50, tick_p99, notes) -> RunOutcome:
    for p in procs:
        p.join(timeout=5)
    ends = [int(e) for e in mem.header[:, Header.END_NS] if e > 0]
    last_ns = max(ends) if ends else time.monotonic_ns()
    end_ns = min(last_ns, deadline_ns)      # ops draining past the deadline count, their time does not
    secs = min(mem.layout.max_secs, max(1, -(-(last_ns - start_ns) // 1_000_000_000)))
    workers = []
    for i, p in enumerate(procs):
        h = mem.header[i]
        workers.append({
            "index": i, "pid": int(h[Header.PID]), "cpu": int(h[Header.CPU]),
            "state": WorkerState(int(h[Header.STATE])).name.lower(),
            "cpu_user_s": h[Header.UTIME_US] / 1e6, "cpu_sys_s": h[Header.STIME_US] / 1e6,
            "submitted": int(h[Header.SUBMITTED]), "completed": int(h[Header.COMPLETED]),
            "exit": _exit_text(p.exitcode), "message": mem.get_message(i),
        })
    partial = bool(stopper.requested_ns) or bool(notes)
    if stopper.requested_ns:
        notes.insert(0, "interrupted (Ctrl+C): results cover the time until the stop")
    return RunOutcome(
        plan=plan, info=info, op_names=op_names, hist=mem.hist.copy(), ts=mem.ts[:, :secs].copy(),
        errors=mem.errors.copy(), tick_p50_ns=tick_p50[:secs], tick_p99_ns=tick_p99[:secs], workers=workers,
        start_ns=start_ns, ramp_end_ns=ramp_end_ns, end_ns=end_ns, started_at=started_at,
        partial=partial, interrupted=bool(stopper.requested_ns), notes=notes)


def _exit_text(code: int | None) -> str:
    if code is None:
        return "running"
    if code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"status {code}"
