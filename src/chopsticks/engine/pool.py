"""Start one pinned worker process per CPU slot (forked from a lean parent, or spawned), start
their loops together, watch them once a second, stop them (deadline, a stop signal, a dying
worker) and hand back everything they recorded."""
from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import resource
import signal
import sys
import threading
import time
from typing import Callable, Iterable

import numpy as np

from chopsticks.engine.contract import RunOutcome  # noqa: F401 - the run's result, re-exported
from chopsticks.engine.live import LiveRun, Observers, RunObserver, Tick
from chopsticks.engine.shm import ERR_STALLED, Control, Header, RunMemory, ShmLayout, TsField, WorkerState
from chopsticks.errors import ChopsticksError, Interrupted
from chopsticks.metrics.histogram import percentiles_ns
from chopsticks.plan import ARRIVALS, Plan

NO_DEADLINE = 2**63 - 1
START_DELAY_NS = 20_000_000         # workers see the start time before it arrives
DRAIN_GRACE_S = 5.0                 # after the deadline or a stop, in-flight ops may take op-timeout + this
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def usable_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def assign_cpus(procs: int) -> tuple[tuple[int, ...], bool]:
    """Round-robin over the CPUs this process may use; True when CPUs are oversubscribed."""
    cpus = usable_cpus()
    return tuple(cpus[i % len(cpus)] for i in range(procs)), procs > len(cpus)


def _die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to kill this worker when the parent dies, however it dies (SIGKILL, OOM):
    load must never go on against a cluster nobody watches."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:      # the parent died before the request took effect
        os._exit(1)


def _worker_main(plan: Plan, index: int, layout: ShmLayout, shm_name: str, parent_pid: int) -> None:
    """Body of worker `index`: pin, open the target, wait for the start, run the loop."""
    _die_with_parent(parent_pid)
    for signum in (signal.SIGINT, signal.SIGHUP):       # the parent decides when to stop
        signal.signal(signum, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)       # a forked worker inherits the parent's handler
    mem = RunMemory.attach(layout, shm_name)
    hdr = mem.header[index]
    hdr[Header.PID] = os.getpid()
    session = None
    try:
        hdr[Header.CPU] = -1
        if plan.pin == "process":           # before connecting: the client library's threads inherit it
            _pin(hdr, plan.cpus[index])
        while mem.control[Control.PREPARED] == 0 and mem.control[Control.STOP] == 0:
            time.sleep(0.001)
        if mem.control[Control.STOP]:
            hdr[Header.STATE] = WorkerState.DONE
            return
        session = plan.target.open_worker(plan, plan.worker_index(index))
        if plan.pin == "thread":            # after connecting: only this thread, the loop's
            _pin(hdr, plan.cpus[index])
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
        spec = loop_spec(plan, layout, index, start_ns)
        hist, ts, errors = mem.worker_rows(index)
        before = resource.getrusage(resource.RUSAGE_SELF)
        out = session.run(hist, ts, errors, mem.control[Control.STOP:Control.STOP + 1], spec)
        after = resource.getrusage(resource.RUSAGE_SELF)
        # CPU of the whole worker (librados/librbd threads included) while it ran, not while it started.
        hdr[Header.UTIME_US] = int((after.ru_utime - before.ru_utime) * 1e6)
        hdr[Header.STIME_US] = int((after.ru_stime - before.ru_stime) * 1e6)
        hdr[Header.SUBMITTED], hdr[Header.COMPLETED] = out["submitted"], out["completed"]
        if out.get("report"):           # what the session has to say of its run (e.g. --verify)
            mem.set_message(index, out["report"])
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


def loop_spec(plan: Plan, layout: ShmLayout, index: int, start_ns: int) -> dict:
    """What worker `index` (local) hands its loop: the fields of _fast/engine.pxd's RunSpec and of
    the recorder, from the Plan."""
    ramp_end_ns = start_ns + plan.ramp_s * 1_000_000_000
    g = plan.worker_index(index)
    rate = (plan.rate or 0.0) / plan.workers_total      # the schedule is split evenly over workers
    # Uniform arrivals: worker g's schedule is offset by g gaps of the total rate, so the workers'
    # intended starts interleave evenly rather than coincide.
    first_due_ns = start_ns + (g * 1e9 / plan.rate if plan.rate else 0.0)
    return {
        "n_ops": layout.n_ops, "n_target_ops": len(plan.target.op_names), "max_secs": layout.max_secs,
        "start_ns": start_ns, "ramp_end_ns": ramp_end_ns,
        "deadline_ns": NO_DEADLINE if plan.duration_s is None else ramp_end_ns + int(plan.duration_s * 1e9),
        "ops_limit": plan.ops_limit(), "op_timeout_ns": int(plan.op_timeout_s * 1e9),
        "max_inflight": plan.max_inflight,
        "seed": plan.worker_seed(g), "worker_index": g, "rate": rate, "arrivals": ARRIVALS.index(plan.arrivals),
        "first_due_ns": first_due_ns,
    }


def _pin(hdr, cpu: int) -> None:
    """Pin the calling thread (and the threads it starts later) to cpu; record it in the header."""
    try:
        os.sched_setaffinity(0, {cpu})
        hdr[Header.CPU] = cpu
    except OSError:
        pass


class _Stopper:
    """Stop-signal handler: the first SIGINT/SIGTERM/SIGHUP asks workers to drain, a second one
    kills them."""

    def __init__(self, mem: RunMemory):
        self.mem, self.requested_ns, self.force, self.signum = mem, 0, False, None

    def __call__(self, signum, frame) -> None:
        if self.requested_ns:
            self.force = True
        self.signum = self.signum or signum
        self.request()

    def request(self) -> None:
        self.mem.control[Control.STOP] = 1
        if not self.requested_ns:
            self.requested_ns = time.monotonic_ns()


@contextlib.contextmanager
def _stop_signals(stopper: _Stopper):
    """Route the stop signals to `stopper` while the workers live (only the main thread can)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, stopper) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def run(plan: Plan, observers: Iterable[RunObserver] = (), start_gate: Callable[[], int] | None = None) -> RunOutcome:
    """Run plan to completion (or interruption) and return what the workers recorded.

    `start_gate`, if given, is called once every worker is ready and returns the CLOCK_MONOTONIC
    ns at which they start (a cluster run's common start); by default, a few ms from now."""
    obs = Observers(observers)
    op_names = plan.op_names
    layout = ShmLayout(plan.procs, len(op_names), plan.max_secs)
    mem = RunMemory.create(layout)
    stopper = _Stopper(mem)
    ctx = _start_method()
    procs = [ctx.Process(target=_worker_main, args=(plan, i, layout, mem.name, os.getpid()),
                         name=f"chopsticks-worker-{i}", daemon=True) for i in range(plan.procs)]
    started = []
    try:
        with _stop_signals(stopper):
            # The workers start first, from a parent that has not touched librados yet, and wait
            # until the target is checked (and created, with --create) before they open it.
            for p in procs:
                if stopper.requested_ns:
                    raise Interrupted(stopper.signum or signal.SIGINT)
                p.start()
                started.append(p)
            info = plan.target.prepare(plan)
            mem.control[Control.PREPARED] = 1
            _wait_ready(mem, procs, stopper, obs)
            start_ns = start_gate() if start_gate else time.monotonic_ns() + START_DELAY_NS
            started_at = time.time() + (start_ns - time.monotonic_ns()) / 1e9
            mem.control[Control.START_NS] = start_ns
            ramp_end_ns = start_ns + plan.ramp_s * 1_000_000_000
            deadline_ns = NO_DEADLINE if plan.duration_s is None else ramp_end_ns + int(plan.duration_s * 1e9)
            obs.started(LiveRun(plan, op_names, mem, start_ns, started_at, stopper))
            watch = _Watch(plan, mem, procs, stopper, obs, start_ns, deadline_ns)
            watch.run()
            return _collect(plan, info, op_names, mem, procs, stopper, watch, ramp_end_ns, started_at)
    finally:
        try:
            obs.finish()
        finally:
            try:
                for p in started:
                    if p.is_alive():
                        p.kill()
                    p.join(timeout=5)
            finally:
                mem.close()


def _start_method():
    """fork from a lean, single-threaded parent: a worker then costs no interpreter start-up nor
    imports (~0.2 s of CPU each with spawn). The parent forks before it connects to any cluster
    (librados must never be inherited). With other threads alive (a Dask worker, a Prometheus
    endpoint already serving) a fork could inherit a lock held by one of them: spawn then."""
    if threading.current_thread() is threading.main_thread() and threading.active_count() == 1:
        sys.stdout.flush()
        sys.stderr.flush()          # a forked child flushes what it inherited: nothing must be pending
        return mp.get_context("fork")
    return mp.get_context("spawn")


def _wait_ready(mem: RunMemory, procs, stopper: _Stopper, obs: Observers) -> None:
    """Until every worker has opened its target (connect, prefill); a worker that fails first
    fails the run. Slow starts are shown, never cut short: a stop signal ends the wait."""
    t0 = time.monotonic()
    while True:
        states = mem.header[:, Header.STATE]
        if not mem.unlinked and np.all(mem.header[:, Header.PID] != 0):
            mem.unlink()                    # every worker has attached
        for i, p in enumerate(procs):
            if states[i] == WorkerState.FAILED or (not p.is_alive() and states[i] != WorkerState.READY):
                stopper.request()
                why = mem.get_message(i) or f"exited with {_exit_text(p.exitcode)}"
                raise ChopsticksError(f"worker {i} could not start: {why}")
        ready = int(np.count_nonzero(states == WorkerState.READY))
        if ready == len(procs):
            return
        if stopper.requested_ns:
            raise Interrupted(stopper.signum or signal.SIGINT)
        obs.waiting(ready, len(procs), time.monotonic() - t0)
        time.sleep(0.01)


def _cpu_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


class _Watch:
    """Once a second: sample the merged histogram and the time series, tell the observers,
    notice dead workers, enforce the drain grace."""

    def __init__(self, plan, mem, procs, stopper, obs, start_ns, deadline_ns):
        self.plan, self.mem, self.procs, self.stopper, self.obs = plan, mem, procs, stopper, obs
        self.start_ns, self.deadline_ns = start_ns, deadline_ns
        self.p50: list[np.ndarray] = []
        self.p99: list[np.ndarray] = []
        self.p99_9: list[np.ndarray] = []
        self.notes: list[str] = []
        self.killed: set[int] = set()
        self.cpu_ticks = [_cpu_ticks(p.pid) for p in procs]
        self.cpu_ticks_at_start = list(self.cpu_ticks)

    def stop_ns(self) -> int:
        return min(self.deadline_ns, self.stopper.requested_ns or NO_DEADLINE)

    def run(self) -> None:
        mem, procs = self.mem, self.procs
        n_ops = mem.layout.n_ops
        prev = np.zeros((n_ops, mem.hist.shape[-1]), dtype=np.uint64)
        reported: set[int] = set()
        next_tick, second = self.start_ns + 1_000_000_000, 0
        grace_ns = int((self.plan.op_timeout_s + DRAIN_GRACE_S) * 1e9)
        while any(p.is_alive() for p in procs):
            time.sleep(min(0.1, max(0.0, (next_tick - time.monotonic_ns()) / 1e9)))
            now = time.monotonic_ns()
            for i, p in enumerate(procs):
                if i not in reported and not p.is_alive() and mem.header[i, Header.STATE] != WorkerState.DONE:
                    reported.add(i)
                    why = mem.get_message(i) or f"died ({_exit_text(p.exitcode)})"
                    if p.exitcode is not None and p.exitcode < 0:
                        self.killed.add(i)
                    self.notes.append(f"worker {i} (pid {mem.header[i, Header.PID]}, cpu {mem.header[i, Header.CPU]}): {why}")
            if now >= next_tick and second < mem.layout.max_secs:
                cum = mem.hist.sum(axis=(0, 1))
                delta = cum - prev
                prev = cum
                p50, p99, p99_9 = np.empty(n_ops), np.empty(n_ops), np.empty(n_ops)
                for op in range(n_ops):
                    p50[op], p99[op], p99_9[op] = percentiles_ns(delta[op], (50.0, 99.0, 99.9))
                self.p50.append(p50)
                self.p99.append(p99)
                self.p99_9.append(p99_9)
                ticks = [_cpu_ticks(p.pid) for p in procs]
                cpu_pct = np.array([max(0, t - b) for t, b in zip(ticks, self.cpu_ticks)]) * 100.0 / CLOCK_TICKS
                self.cpu_ticks = [t or b for t, b in zip(ticks, self.cpu_ticks)]
                row = mem.ts[:, second].sum(axis=0)
                self.obs.tick(Tick(second, row[:, TsField.OPS], row[:, TsField.BYTES], row[:, TsField.ERRORS],
                                   row[:, TsField.STALLED], row[:, TsField.INFLIGHT], p50, p99, delta, cpu_pct,
                                   ramp=second < self.plan.ramp_s, draining=next_tick > self.stop_ns()))
                second += 1
                next_tick += 1_000_000_000
            stop_at = self.stop_ns()
            if self.stopper.force or (stop_at != NO_DEADLINE and now > stop_at + grace_ns):
                for i, p in enumerate(procs):
                    if p.is_alive():
                        p.kill()
                        reported.add(i)
                        self.killed.add(i)
                        self.notes.append(f"worker {i}: killed, its in-flight ops did not complete within "
                                          f"{grace_ns / 1e9:.0f}s of the stop")
                break


def _collect(plan, info, op_names, mem, procs, stopper, watch: _Watch, ramp_end_ns, started_at) -> RunOutcome:
    for p in procs:
        p.join(timeout=5)
    start_ns = watch.start_ns
    ends = [int(e) for e in mem.header[:, Header.END_NS] if e > 0]
    last_ns = max(ends) if ends else time.monotonic_ns()
    end_ns = min(last_ns, watch.stop_ns())      # ops draining past the end count as drain, their time does not
    secs = min(mem.layout.max_secs, max(1, -(-(last_ns - start_ns) // 1_000_000_000)))
    workers = []
    for i, p in enumerate(procs):
        h = mem.header[i]
        state = WorkerState(int(h[Header.STATE]))
        entry = {
            "index": i, "pid": int(h[Header.PID]), "cpu": int(h[Header.CPU]),
            "state": state.name.lower(),
            "cpu_user_s": h[Header.UTIME_US] / 1e6, "cpu_sys_s": h[Header.STIME_US] / 1e6,
            "submitted": int(h[Header.SUBMITTED]), "completed": int(h[Header.COMPLETED]),
            "exit": _exit_text(p.exitcode), "message": mem.get_message(i),
        }
        if i in watch.killed or state in (WorkerState.RUNNING, WorkerState.READY, WorkerState.STARTING):
            # It never reported: keep what shared memory and /proc last showed of it.
            errs = mem.errors[i].sum(axis=(0, 1))
            completed = int(mem.hist[i].sum()) + int(errs.sum() - errs[ERR_STALLED])
            cpu_s = max(0, watch.cpu_ticks[i] - watch.cpu_ticks_at_start[i]) / CLOCK_TICKS
            entry.update(state="killed", completed=completed, submitted=max(entry["submitted"], completed),
                         cpu_user_s=entry["cpu_user_s"] or cpu_s, cpu_sys_s=entry["cpu_sys_s"])
        workers.append(entry)
    notes = watch.notes
    partial = bool(stopper.requested_ns) or bool(notes)
    if stopper.requested_ns:
        name = signal.Signals(stopper.signum).name if stopper.signum else "a stop request"
        notes.insert(0, f"interrupted by {name}: results cover the time until the stop")
    n_ops = len(op_names)
    p50 = np.array(watch.p50[:secs]).reshape(-1, n_ops)
    p99 = np.array(watch.p99[:secs]).reshape(-1, n_ops)
    p99_9 = np.array(watch.p99_9[:secs]).reshape(-1, n_ops)
    if len(p50) < secs:     # seconds the parent did not sample (the run ended between ticks)
        pad = np.full((secs - len(p50), n_ops), np.nan)
        p50, p99, p99_9 = np.vstack([p50, pad]), np.vstack([p99, pad]), np.vstack([p99_9, pad])
    return RunOutcome(
        plan=plan, info=info, op_names=op_names, hist=mem.hist.copy(), ts=mem.ts[:, :secs].copy(),
        errors=mem.errors.copy(), tick_p50_ns=p50, tick_p99_ns=p99, tick_p99_9_ns=p99_9, workers=workers,
        start_ns=start_ns, ramp_end_ns=ramp_end_ns, end_ns=end_ns, started_at=started_at,
        partial=partial, stop_signal=(stopper.signum or signal.SIGINT) if stopper.requested_ns else None,
        notes=notes)


def _exit_text(code: int | None) -> str:
    if code is None:
        return "running"
    if code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"status {code}"
