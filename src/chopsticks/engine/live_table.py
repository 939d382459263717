"""The live table of a run in a terminal: a header line, one row per op for the last second and the
latest events, redrawn in place once a second by rich and gone when the run ends, so the final
summary takes its place. It fits the terminal's width: columns are dropped by priority, never
wrapped."""
from __future__ import annotations

import math

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from chopsticks.engine.live import LiveRun
from chopsticks.engine.progress import OpSecond, ProgressDisplay, SecondView, fmt_count, fmt_latency, fmt_mib

OP_WIDTH = 14                       # longer op names (scenario tasks) are cut
EVENTS_SHOWN = 3
COLUMN_GAP = 2


def _figure(op: OpSecond, text: str) -> str:
    """Derived ops (TTFB, reconnect) are timings of other ops: no rate, errors or in-flight."""
    return "-" if op.derived else text


# (title, cell, width, keep): shown in this order; a narrow terminal drops the lowest `keep` first.
COLUMNS = (
    ("op", lambda op: op.name[:OP_WIDTH], 0, 9),
    ("IOPS", lambda op: _figure(op, fmt_count(op.ops)), 7, 8),
    ("MiB/s", lambda op: _figure(op, fmt_mib(op.mib_s)), 8, 4),
    ("p50", lambda op: fmt_latency(op.p50_ns), 7, 5),
    ("p99", lambda op: fmt_latency(op.p99_ns), 7, 7),
    ("errors/s", lambda op: _figure(op, fmt_count(op.errors)), 8, 6),
    ("stalled", lambda op: _figure(op, fmt_count(op.stalled)), 7, 3),
    ("in flight", lambda op: _figure(op, fmt_count(op.inflight)), 9, 2),
)


def fit(parts: list[str], width: int, sep: str = "  ") -> str:
    """The leading parts that fit in `width` joined by `sep` (the first one cut if it alone is too wide)."""
    line = parts[0][:width]
    for part in parts[1:]:
        if len(line) + len(sep) + len(part) > width:
            break
        line += sep + part
    return line


class LiveTable(ProgressDisplay):
    def __init__(self, stream):
        super().__init__()
        self.console = Console(file=stream, force_terminal=True, highlight=False)
        self.live = Live(console=self.console, auto_refresh=False, transient=True, redirect_stdout=False)
        self.live_started = False
        self.header = ""
        self.body: Table | Text = Text("")

    def started(self, run: LiveRun) -> None:
        super().started(run)
        plan = run.plan
        self.total_s = None if plan.duration_s is None else plan.ramp_s + math.ceil(plan.duration_s)
        self.workers = f"{plan.workers_total} worker{'s' if plan.workers_total > 1 else ''}"

    def show_waiting(self, text: str) -> None:
        self.header, self.body = f"starting: {text}", Text("")
        self._draw()

    def show(self, view: SecondView) -> None:
        tick, width = view.tick, self.console.width
        if tick.draining:
            clock = f"draining: {view.inflight:,} ops in flight"
        else:
            clock = f"{tick.second + 1}s" + (f" / {self.total_s}s" if self.total_s else "") + (" ramp" if tick.ramp else "")
        parts = [clock, f"{fmt_count(view.iops)} IOPS", f"{fmt_mib(view.mib_s)} MiB/s"]
        if view.errors:
            parts.append(f"errors {fmt_count(view.errors)}/s")
        if self.rate_text(view):
            parts.append(self.rate_text(view))
        if not math.isnan(view.cpu_max_pct):
            parts.append(f"busiest worker CPU {view.cpu_max_pct:.0f}%")
        parts.append(self.workers)
        self.header = fit(parts, width)
        self.body = self._table(view.ops, width)
        self._draw()

    def show_event(self, second: int, text: str) -> None:
        self._draw()

    def _table(self, ops: list[OpSecond], width: int) -> Table:
        op_width = max([2, *(len(op.name[:OP_WIDTH]) for op in ops)])
        widths = [max(len(title), min_width or op_width) for title, _, min_width, _ in COLUMNS]
        kept = set(range(len(COLUMNS)))
        for i in sorted(kept, key=lambda i: COLUMNS[i][3]):
            if sum(widths[j] + COLUMN_GAP for j in kept) - COLUMN_GAP <= width:
                break
            kept.discard(i)
        columns = [(COLUMNS[i][0], COLUMNS[i][1], widths[i]) for i in sorted(kept)]
        table = Table(box=None, show_edge=False, pad_edge=False, padding=(0, COLUMN_GAP // 2), expand=False)
        for i, (title, _, w) in enumerate(columns):
            table.add_column(title, justify="left" if i == 0 else "right", width=w, no_wrap=True,
                             overflow="crop", header_style="bold")
        for op in ops:
            table.add_row(*(cell(op) for _, cell, _ in columns))
        return table

    def _draw(self) -> None:
        width = self.console.width
        lines = [Text(self.header, no_wrap=True, overflow="crop"), self.body]
        for second, text in self.events[-EVENTS_SHOWN:]:
            lines.append(Text(fit([f"{second + 1:>4}s  {text}"], width), no_wrap=True, overflow="crop", style="yellow"))
        self.live.update(Group(*lines), refresh=False)
        if not self.live_started:
            self.live.start()
            self.live_started = True
        self.live.refresh()

    def close(self) -> None:
        if self.live_started:
            self.live.stop()
