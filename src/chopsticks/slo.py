"""The SLO search: the highest rate at which every latency objective (`p99<=5ms`) holds.

A closed-loop probe finds the ceiling; rate-mode steps then climb from a low fraction of it until
one misses, and a bisection between the last step that met the objectives and the first that
did not narrows the answer to within SEARCH_PRECISION. A step meets them when the rate was reached
(achieved ≥ KEPT_UP × asked) and every objective's percentile of the response time (from each op's
intended start) is within its limit."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from chopsticks.errors import ChopsticksError
from chopsticks.units import parse_duration

CLIMB = (0.2, 0.4, 0.6, 0.8, 1.0)       # fractions of the ceiling, tried in order
FLOOR = 0.05                           # last try when even the lowest step misses
SEARCH_PRECISION = 0.05                # stop when (miss - met) / miss is below this
_OBJECTIVE = re.compile(r"^\s*p(\d+(?:\.\d+)?)\s*<=\s*(.+?)\s*$")


@dataclass(frozen=True)
class Objective:
    percentile: float
    limit_us: float
    text: str

    def met_by(self, value_us: float) -> bool:
        return value_us == value_us and value_us <= self.limit_us      # NaN (no op) never meets


def parse_objective(text: str) -> Objective:
    """'p99<=5ms' → Objective(99.0, 5000.0); one-line error otherwise."""
    m = _OBJECTIVE.match(text)
    if not m or not 0 < float(m.group(1)) < 100:
        raise ChopsticksError(f"--slo: cannot read '{text}': expected pPERCENTILE<=DURATION, e.g. p99<=5ms, p99.9<=20ms")
    return Objective(float(m.group(1)), parse_duration(m.group(2), "--slo") * 1e6, text.strip())


@dataclass
class Step:
    """One rate tried: what was asked and achieved, the response time's percentiles, the verdict."""
    asked: float | None             # None: the closed-loop probe
    achieved: float
    percentiles_us: dict[float, float]
    met: bool
    result: object                  # whatever run_step returned (the full result, for --json)


def search(objectives: list[Objective], run_step: Callable[[float | None], tuple[float, dict[float, float], bool, object]],
           on_step: Callable[[Step], None] = lambda step: None) -> tuple[float | None, list[Step]]:
    """Run the search; `run_step(rate)` runs one step (rate None: closed loop) and returns
    (achieved ops/s, {percentile: response µs}, rate reached, result). Returns the answer (None:
    no rate met the objectives) and every step in the order run."""
    steps: list[Step] = []

    def step(rate: float | None) -> Step:
        achieved, pcts, reached, result = run_step(rate)
        met = (rate is None or reached) and all(o.met_by(pcts.get(o.percentile, float("nan"))) for o in objectives)
        s = Step(rate, achieved, pcts, met, result)
        steps.append(s)
        on_step(s)
        return s

    probe = step(None)
    ceiling = probe.achieved
    if ceiling <= 0:
        return None, steps
    met_rate, missed_rate = None, None
    for fraction in CLIMB:
        s = step(fraction * ceiling)
        if s.met:
            met_rate = s.asked
        else:
            missed_rate = s.asked
            break
    if met_rate is None:
        s = step(FLOOR * ceiling)
        if not s.met:
            return None, steps
        met_rate = s.asked
    if missed_rate is None:
        return met_rate, steps              # even the ceiling's rate meets them
    while (missed_rate - met_rate) / missed_rate > SEARCH_PRECISION:
        mid = (met_rate + missed_rate) / 2
        if step(mid).met:
            met_rate = mid
        else:
            missed_rate = mid
    return met_rate, steps
