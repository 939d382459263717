"""The SLO search's rules, on a model cluster whose p99 grows with the rate."""
import pytest

from chopsticks import slo
from chopsticks.errors import ChopsticksError


def model(ceiling: float, knee: float):
    """A step runner: p99 is 1 ms below `knee` ops/s and climbs steeply above it."""
    asked = []

    def run_step(rate):
        asked.append(rate)
        achieved = ceiling if rate is None else min(rate, ceiling)
        load = ceiling if rate is None else rate
        p99_us = 1000.0 if load <= knee else 1000.0 + (load - knee) * 100
        return achieved, {99.0: p99_us}, rate is None or rate <= ceiling, None

    return run_step, asked


def test_parse_objective():
    o = slo.parse_objective("p99.9<=20ms")
    assert (o.percentile, o.limit_us) == (99.9, 20_000.0)
    assert slo.parse_objective(" p50 <= 500us ").limit_us == 500.0
    for bad in ("p99<5ms", "99<=5ms", "p100<=1s", "p99<=fast"):
        with pytest.raises(ChopsticksError):
            slo.parse_objective(bad)


def test_the_answer_is_within_five_percent_below_the_knee():
    run_step, asked = model(ceiling=10_000, knee=6_300)
    answer, steps = slo.search([slo.parse_objective("p99<=2ms")], run_step)
    true_limit = 6_300 + 10            # p99 stays ≤ 2 ms up to knee + 10 ops/s
    assert true_limit * (1 - slo.SEARCH_PRECISION) <= answer <= true_limit
    assert asked[0] is None and asked[1:5] == [2000, 4000, 6000, 8000]
    assert all(s.met == (s.asked <= true_limit) for s in steps[1:])


def test_no_rate_meets():
    run_step, asked = model(ceiling=10_000, knee=0)
    answer, steps = slo.search([slo.parse_objective("p99<=1ms")], run_step)
    assert answer is None and asked == [None, 2000, 500]


def test_the_ceiling_itself_meets():
    run_step, _ = model(ceiling=10_000, knee=1e9)
    answer, steps = slo.search([slo.parse_objective("p99<=2ms")], run_step)
    assert answer == 10_000 and len(steps) == 1 + len(slo.CLIMB)


def test_a_rate_not_reached_does_not_meet():
    run_step, _ = model(ceiling=5_000, knee=1e9)           # latency fine, but the rate is not reached
    answer, _ = slo.search([slo.parse_objective("p99<=2ms")], lambda r: (*run_step(r)[:2], r is None or r <= 3_000, None))
    assert answer is not None and answer <= 3_000
