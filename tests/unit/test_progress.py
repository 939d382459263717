"""The progress displays fed with Ticks by hand, over a real run's shared memory: what a line or
the live table says, how wide it gets, and which events it notes."""
import io
import math
import os
import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from chopsticks.engine.live import LiveRun, Tick
from chopsticks.engine.live_table import LiveTable
from chopsticks.engine.progress import PlainProgress, fmt_count, fmt_latency, progress_display
from chopsticks.engine.shm import Header, RunMemory, ShmLayout, WorkerState
from chopsticks.plan import Plan

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
OPS = ("put", "get", "a_very_long_scenario_task_name", "get.ttfb")


@dataclass(frozen=True)
class FakeTarget:
    """Just what the displays read of a target."""
    op_names: tuple = OPS
    derived_ops: ClassVar[tuple] = ("get.ttfb",)

    def error_name(self, code: int) -> str:
        return {1: "auth", 3: "not_found"}.get(code, f"code{code}")


class Stopper:
    def request(self):
        pass


@pytest.fixture
def run():
    mem = RunMemory.create(ShmLayout(2, len(OPS), 20))
    mem.header[:, Header.PID] = os.getpid()
    mem.header[:, Header.STATE] = WorkerState.RUNNING
    plan = Plan(target=FakeTarget(), procs=2, cpus=(0, 1), max_inflight=4, duration_s=10.0, ramp_s=2)
    yield LiveRun(plan, OPS, mem, 0, 0.0, Stopper())
    mem.close()


def tick(second, ops=(1234, 300, 0, 300), p99_ms=(2.0, 44.0, math.nan, 90.0), errors=(0, 0, 0, 0),
         stalled=(0, 0, 0, 0), inflight=(3, 5, 0, 0), **flags) -> Tick:
    n = len(OPS)
    p99 = np.array(p99_ms) * 1e6
    return Tick(second, np.array(ops), np.array(ops) * 4096, np.array(errors), np.array(stalled), np.array(inflight),
                p99 / 2, p99, np.zeros((n, 8), dtype=np.uint64), np.array([97.0, 40.0]), **flags)


def test_figures_stay_short_and_carry_their_unit():
    assert [fmt_latency(ns) for ns in (250, 812e3, 2.07e6, 40.1e6, 1.23e9, math.nan)] == \
        ["250ns", "812µs", "2.07ms", "40.1ms", "1.23s", "-"]
    assert [fmt_count(n) for n in (999, 12345, 123_456, 12_345_678)] == ["999", "12,345", "123.5k", "12.35M"]
    assert all(len(fmt_latency(10.0 ** e)) <= 7 and len(fmt_count(10.0 ** e)) <= 7 for e in range(12))


def test_plain_lines_are_bounded_and_derived_ops_are_not_totalled(run):
    out = io.StringIO()
    display = PlainProgress(out)
    display.started(run)
    display.tick(tick(0, ramp=True))
    display.tick(tick(2, ops=(10**7, 10**7, 10**7, 10**7), p99_ms=(1, 2, 3000, 9000), errors=(5, 0, 7, 0)))
    display.tick(tick(12, inflight=(2, 1, 0, 0), draining=True))
    display.tick(tick(13, inflight=(2, 1, 0, 0), draining=True))
    display.tick(tick(14, inflight=(0, 0, 0, 0), draining=True))
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    # get.ttfb (derived) is neither in the IOPS total nor the worst p99, though its p99 is the largest
    assert lines[0] == "[   1s ramp] 1,534 IOPS 6.0 MiB/s p99 44.0ms (get) cpu 97%"
    assert lines[1].startswith("[   3s] 30.00M IOPS") and "p99 3.00s (a_very_long_scen" in lines[1]
    assert [line for line in lines if line.startswith("[drain]")] == ["[drain] 3 ops in flight", "[drain] 0 ops in flight"]
    assert "event: put errors: auth" not in out.getvalue()      # no error was recorded in shared memory


def test_events_worker_gone_stalls_and_new_error_kinds(run):
    out = io.StringIO()
    display = PlainProgress(out)
    display.started(run)
    run.mem.errors[0, 1, 0, 1] = 4                      # put: 4 'auth' errors in the measured phase
    run.mem.header[1, Header.STATE] = WorkerState.FAILED
    run.mem.set_message(1, "stopped early: Input/output error")
    display.tick(tick(3, errors=(4, 0, 0, 0), stalled=(0, 2, 0, 0)))
    display.tick(tick(4, errors=(1, 0, 0, 0), stalled=(0, 2, 0, 0)))
    events = [line for line in out.getvalue().splitlines() if "event:" in line]
    assert events == ["[   4s] event: worker 1 (pid %d): stopped early: Input/output error" % os.getpid(),
                      "[   4s] event: get: 2 ops stalled (in flight > 30s)",
                      "[   4s] event: put errors: auth"]
    display.event(5, "cluster: HEALTH_WARN")            # another observer's event
    assert out.getvalue().splitlines()[-1] == "[   6s] event: cluster: HEALTH_WARN"


def _frames(text: str) -> list[str]:
    return [line for line in ANSI.sub("", text).replace("\r", "\n").split("\n")]


@pytest.mark.parametrize("columns, kept, dropped", [
    (80, ["op", "IOPS", "MiB/s", "p50", "p99", "errors/s", "stalled", "in flight"], []),
    (50, ["op", "IOPS", "p50", "p99", "errors/s"], ["MiB/s", "stalled", "in flight"]),
])
def test_live_table_fits_the_terminal_and_drops_columns_by_priority(run, monkeypatch, columns, kept, dropped):
    monkeypatch.setenv("COLUMNS", str(columns))
    out = io.StringIO()
    display = LiveTable(out)
    display.started(run)
    display.tick(tick(4))
    display.event(4, "worker 1 (pid 123): killed by SIGKILL " + "x" * 100)
    display.finish()
    lines = _frames(out.getvalue())
    assert max(len(line) for line in lines) <= columns
    header = next(line for line in lines if line.startswith("op "))
    assert header.split() == " ".join(kept).split()
    assert "5s / 12s  1,534 IOPS" in out.getvalue()
    ttfb = next(line for line in lines if line.startswith("get.ttfb"))
    assert ttfb.split()[1] == "-" and "45.0ms" in ttfb and "90.0ms" in ttfb     # latency only
    assert "\x1b[1A" in out.getvalue() and "\x1b[2K" in out.getvalue()          # erased at the end


def test_progress_modes(monkeypatch):
    assert progress_display("none") is None
    assert isinstance(progress_display("auto", io.StringIO()), PlainProgress)
    assert isinstance(progress_display("plain", io.StringIO()), PlainProgress)
    assert isinstance(progress_display("live", io.StringIO()), LiveTable)


def test_a_slow_start_is_shown_once_a_second_after_two_seconds():
    out = io.StringIO()
    display = PlainProgress(out)
    for elapsed in (0.5, 1.9, 2.0, 2.5, 3.01, 3.5):
        display.waiting(1, 2, elapsed)
    assert out.getvalue().splitlines() == ["[start] 1/2 workers ready after 2s", "[start] 1/2 workers ready after 3s"]
