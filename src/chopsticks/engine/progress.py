"""The live progress line: once a second on a terminal (rewritten in place), every 5 s otherwise."""
from __future__ import annotations

import math
import sys

from chopsticks.engine.live import Tick


def _us(ns: float) -> str:
    if math.isnan(ns):
        return "-"
    return f"{ns / 1e6:.2f}ms" if ns >= 1e6 else f"{ns / 1e3:.0f}µs"


class ProgressLine:
    def __init__(self, op_names: tuple[str, ...], stream=None, every_s: int | None = None):
        self.op_names = op_names
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every_s = every_s or (1 if self.tty else 5)
        self.waited_s = 0

    def waiting(self, ready: int, total: int, elapsed_s: float) -> None:
        """While workers start (connect, prefill): a line every every_s seconds after the first 2."""
        if elapsed_s >= 2 + self.waited_s:
            self._write(f"[start] {ready}/{total} workers ready after {elapsed_s:.0f}s")
            self.waited_s += self.every_s

    def tick(self, tick: Tick) -> None:
        if (tick.second + 1) % self.every_s:
            return
        parts = [f"[{tick.second + 1:>4}s{' ramp' if tick.ramp else ''}]"]
        for o, op in enumerate(self.op_names):
            if tick.ops[o] or tick.errors[o]:
                parts.append(f"{op} {int(tick.ops[o]):,} IOPS {tick.bytes[o] / 2**20:,.1f} MiB/s "
                             f"p50 {_us(tick.p50_ns[o])} p99 {_us(tick.p99_ns[o])}"
                             + (f" errors {int(tick.errors[o]):,}" if tick.errors[o] else ""))
        if len(parts) == 1:
            parts.append("no completions")
        self._write("  ".join(parts))

    def _write(self, line: str) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
