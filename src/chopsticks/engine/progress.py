"""What a person sees while a run goes (--progress): in a terminal the live table
(engine/live_table.py), otherwise one short line a second. Both read a Tick through SecondView and
note the same events (a worker died, stalls or errors began); other observers add theirs with
`event(second, text)`."""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chopsticks.engine.contract import error_namer
from chopsticks.engine.live import LiveRun, Tick
from chopsticks.engine.shm import ERR_STALLED, Header, WorkerState
from chopsticks.plan import SCHEDULE_LAG

PROGRESS_MODES = ("auto", "live", "plain", "none")
PLAIN_WIDTH = 80                    # a plain line never wraps a standard terminal or log viewer
START_QUIET_S = 2                   # a start shorter than this shows nothing


def fmt_latency(ns: float) -> str:
    """At most 7 characters with the unit: 250ns, 812µs, 2.07ms, 40.1ms, 1.23s; '-' if none."""
    if math.isnan(ns):
        return "-"
    if ns < 1e3:
        return f"{ns:.0f}ns"
    if ns < 1e6:
        return f"{ns / 1e3:.0f}µs"
    if ns < 1e7:
        return f"{ns / 1e6:.2f}ms"
    if ns < 1e9:
        return f"{ns / 1e6:.1f}ms"
    return f"{ns / 1e9:.2f}s" if ns < 1e11 else f"{ns / 1e9:.0f}s"


def fmt_count(n: float) -> str:
    """At most 7 characters: 12,345, 123.4k, 12.35M."""
    if n < 100_000:
        return f"{n:,.0f}"
    if n < 1e6:
        return f"{n / 1e3:.1f}k"
    return f"{n / 1e6:.2f}M" if n < 1e8 else f"{n / 1e6:.0f}M"


def fmt_mib(x: float) -> str:
    return f"{x:,.1f}" if x < 10_000 else f"{x:,.0f}"


@dataclass
class OpSecond:
    """One op's figures in one second; derived ops (TTFB, reconnect) have latencies only."""
    name: str
    derived: bool
    ops: int
    mib_s: float
    errors: int
    stalled: int
    inflight: int
    p50_ns: float
    p99_ns: float


class SecondView:
    """A Tick as people read it: the ops seen so far, and totals over the target's own ops."""

    def __init__(self, tick: Tick, op_names: tuple[str, ...], derived: tuple[str, ...], shown: set[int]):
        self.tick = tick
        own = [o for o, name in enumerate(op_names) if name not in derived]
        for o in range(len(op_names)):
            if tick.ops[o] or tick.errors[o] or tick.stalled[o] or tick.inflight[o]:
                shown.add(o)
        self.ops = [OpSecond(op_names[o], op_names[o] in derived, int(tick.ops[o]), tick.bytes[o] / 2**20,
                             int(tick.errors[o]), int(tick.stalled[o]), int(tick.inflight[o]),
                             float(tick.p50_ns[o]), float(tick.p99_ns[o])) for o in sorted(shown)]
        self.iops = int(tick.ops[own].sum())
        self.mib_s = float(tick.bytes[own].sum()) / 2**20
        self.errors = int(tick.errors[own].sum())
        self.stalled = int(tick.stalled[own].sum())
        self.inflight = int(tick.inflight[own].sum())
        p99 = [(float(tick.p99_ns[o]), op_names[o]) for o in own if not math.isnan(tick.p99_ns[o])]
        self.worst_p99 = max(p99) if p99 else None      # (ns, op)
        self.cpu_max_pct = float(tick.cpu_pct.max()) if len(tick.cpu_pct) else math.nan


def _process_gone(pid: int) -> bool:
    """True once a process has exited (a zombie not yet reaped counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return True


class ProgressDisplay:
    """What both displays share: the run's shape, the ops seen, and the events worth a line.
    Subclasses draw: `show(view)`, `show_waiting(text)`, `show_event(second, text)`, `close()`."""

    def __init__(self):
        self.run: LiveRun | None = None
        self.op_names: tuple[str, ...] = ()
        self.derived: tuple[str, ...] = ()
        self.shown: set[int] = set()
        self.events: list[tuple[int, str]] = []
        self.dead: set[int] = set()
        self.stalling: set[int] = set()
        self.error_codes: set[tuple[int, int]] = set()
        self.waited_s = START_QUIET_S

    def waiting(self, ready: int, total: int, elapsed_s: float) -> None:
        """While workers start (connect, prefill): once a second after the first START_QUIET_S."""
        if elapsed_s >= self.waited_s:
            self.show_waiting(f"{ready}/{total} workers ready after {elapsed_s:.0f}s")
            self.waited_s += 1

    def started(self, run: LiveRun) -> None:
        self.run = run
        self.op_names = run.op_names
        self.name_of = error_namer(run.plan.target)
        self.derived = tuple(run.plan.derived_ops)

    def rate_text(self, view: SecondView) -> str:
        """Rate mode: how much of the asked rate the second achieved and its schedule lag p99, so
        a generator that cannot keep up shows as it happens ('' in a closed loop)."""
        plan = self.run.plan if self.run else None
        if plan is None or plan.rate is None or SCHEDULE_LAG not in self.op_names:
            return ""
        lag = float(view.tick.p99_ns[self.op_names.index(SCHEDULE_LAG)])
        text = f"rate {view.iops / plan.rate:.0%}"
        return text + (f" lag p99 {fmt_latency(lag)}" if not math.isnan(lag) else "")

    def tick(self, tick: Tick) -> None:
        view = SecondView(tick, self.op_names, self.derived, self.shown)
        self._notice(tick)
        self.show(view)

    def event(self, second: int, text: str) -> None:
        """A notable event at `second` since the start (worker died, cluster health changed...);
        any observer may call it."""
        self.events.append((second, text))
        self.show_event(second, text)

    def finish(self) -> None:
        self.close()

    def _notice(self, tick: Tick) -> None:
        """Turn what changed since the last second into events: workers gone, stalls and error
        kinds appearing."""
        mem = self.run.mem
        for i in range(mem.layout.n_workers):
            state = mem.header[i, Header.STATE]
            if i in self.dead or state == WorkerState.DONE:
                continue
            if state in (WorkerState.FAILED, WorkerState.KILLED) or _process_gone(int(mem.header[i, Header.PID])):
                self.dead.add(i)
                why = mem.get_message(i) or "died"
                self.event(tick.second, f"worker {i} (pid {mem.header[i, Header.PID]}): {why}")
        for o in np.nonzero(tick.stalled)[0]:
            if o not in self.stalling:
                self.stalling.add(int(o))
                self.event(tick.second, f"{self.op_names[o]}: {int(tick.stalled[o]):,} ops stalled "
                                        f"(in flight > {self.run.plan.op_timeout_s:g}s)")
        self.stalling &= set(np.nonzero(tick.stalled)[0].tolist())
        if tick.errors.any():
            counts = mem.errors.sum(axis=(0, 1))            # [n_ops][ERR_CODES], every phase
            for o, code in zip(*np.nonzero(counts)):
                if code != ERR_STALLED and (o, code) not in self.error_codes:
                    self.error_codes.add((int(o), int(code)))
                    self.event(tick.second, f"{self.op_names[o]} errors: {self.name_of(int(code))}")

    def show(self, view: SecondView) -> None:
        raise NotImplementedError

    def show_waiting(self, text: str) -> None:
        raise NotImplementedError

    def show_event(self, second: int, text: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


def second_label(tick: Tick) -> str:
    return "drain" if tick.draining else f"{tick.second + 1:>4}s{' ramp' if tick.ramp else ''}"


class PlainProgress(ProgressDisplay):
    """One line a second, at most PLAIN_WIDTH characters: totals and the worst p99."""

    def __init__(self, stream=None):
        super().__init__()
        self.stream = stream or sys.stderr
        self.drain_inflight = -1

    def show(self, view: SecondView) -> None:
        if view.tick.draining:
            if view.inflight != self.drain_inflight:      # a line when the count changes, not every second
                self.drain_inflight = view.inflight
                self._write(f"[drain] {view.inflight:,} ops in flight")
            return
        line = f"[{second_label(view.tick)}] {fmt_count(view.iops)} IOPS {fmt_mib(view.mib_s)} MiB/s"
        if view.worst_p99:
            ns, op = view.worst_p99
            line += f" p99 {fmt_latency(ns)} ({op[:16]})"
        if view.errors:
            line += f" errors {fmt_count(view.errors)}"
        if view.stalled:
            line += f" stalled {fmt_count(view.stalled)}"
        if self.rate_text(view):
            line += " " + self.rate_text(view)
        if not math.isnan(view.cpu_max_pct):
            line += f" cpu {view.cpu_max_pct:.0f}%"
        self._write(line)

    def show_waiting(self, text: str) -> None:
        self._write(f"[start] {text}")

    def show_event(self, second: int, text: str) -> None:
        self._write(f"[{second + 1:>4}s] event: {text}")

    def _write(self, line: str) -> None:
        if len(line) > PLAIN_WIDTH:
            line = line[:PLAIN_WIDTH - 1] + "…"
        self.stream.write(line + "\n")
        self.stream.flush()


def progress_display(mode: str, stream=None) -> ProgressDisplay | None:
    """The display for --progress `mode`: the live table in a terminal (auto) or when asked
    (live), plain lines otherwise; None for 'none'."""
    stream = stream or sys.stderr
    if mode == "none":
        return None
    if mode == "live" or (mode == "auto" and stream.isatty()):
        from chopsticks.engine.live_table import LiveTable

        return LiveTable(stream)
    return PlainProgress(stream)
