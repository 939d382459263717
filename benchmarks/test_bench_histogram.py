"""Microbenchmarks of the hot Python-visible primitives: recording latencies into a histogram,
the parent's merge of every worker's histograms plus percentiles, and payload filling.

    .venv/bin/pytest benchmarks --benchmark-enable

Without --benchmark-enable (pyproject's addopts disable timing) each runs once as a plain test.
"""
import zlib

import numpy as np
import pytest

from chopsticks._fast.histogram import record_values
from chopsticks._fast.payload import make_payload
from chopsticks.metrics.histogram import LOWER_NS, NBUCKETS, percentiles_ns

N_VALUES = 1_000_000
WORKERS, PHASES, OPS = 32, 2, 2
PAYLOAD_BYTES = 4 << 20


def latencies_ns(n: int, seed: int = 7) -> np.ndarray:
    """n latencies spread log-uniformly over 1 µs .. 1 s, as the recorder receives them."""
    rng = np.random.default_rng(seed)
    return np.exp(rng.uniform(np.log(1e3), np.log(1e9), n)).astype(np.uint64)


def recorded(values: np.ndarray) -> np.ndarray:
    """A fresh histogram holding values."""
    hist = np.zeros(NBUCKETS, np.uint64)
    record_values(hist, values)
    return hist


def nearest_rank(values: np.ndarray, p: float) -> float:
    """The exact nearest-rank percentile that percentiles_ns approximates."""
    ordered = np.sort(values)
    return float(ordered[max(1, int(np.ceil(p / 100 * len(ordered)))) - 1])


def test_record_one_million_latencies(benchmark):
    values = latencies_ns(N_VALUES)
    hist = benchmark.pedantic(recorded, args=(values,), rounds=10, iterations=1)
    assert int(hist.sum()) == N_VALUES
    # the nogil recorder puts every value in the bucket whose numpy-derived bounds hold it
    expected = np.bincount(np.searchsorted(LOWER_NS, values, side="right") - 1, minlength=NBUCKETS)
    np.testing.assert_array_equal(hist, expected.astype(np.uint64))


@pytest.fixture(scope="module")
def worker_histograms():
    """[WORKERS][PHASES][OPS][NBUCKETS] as the shared memory holds them, filled from known values
    (op 1 is 10 × slower than op 0), and those values per op."""
    values = latencies_ns(WORKERS * PHASES * 20_000, seed=11)
    per_op = {0: values, 1: values * np.uint64(10)}
    hists = np.ndarray((WORKERS, PHASES, OPS, NBUCKETS), np.uint64)
    for op, op_values in per_op.items():
        for i, chunk in enumerate(np.array_split(op_values, WORKERS * PHASES)):
            hists[i // PHASES, i % PHASES, op] = recorded(chunk)
    return hists, per_op


def merge_and_percentiles(hists: np.ndarray) -> tuple[np.ndarray, list[list[float]]]:
    """What the parent does every second: sum workers and phases, then percentiles per op."""
    merged = hists.sum(axis=(0, 1))
    return merged, [percentiles_ns(merged[op]) for op in range(merged.shape[0])]


def test_merge_32_workers_and_percentiles(benchmark, worker_histograms):
    hists, per_op = worker_histograms
    merged, pcts = benchmark(merge_and_percentiles, hists)
    assert merged.shape == (OPS, NBUCKETS)
    for op, values in per_op.items():
        assert int(merged[op].sum()) == len(values)
        for p, got in zip((50.0, 90.0, 99.0, 99.9, 99.99), pcts[op]):
            exact = nearest_rank(values, p)
            assert abs(got - exact) <= 0.008 * exact, (op, p, got, exact)   # within one bucket width


def test_make_4mib_random_payload(benchmark):
    payload = benchmark(make_payload, PAYLOAD_BYTES)
    assert len(payload) == PAYLOAD_BYTES
    assert payload == make_payload(PAYLOAD_BYTES)                    # same seed, same bytes
    assert payload != make_payload(PAYLOAD_BYTES, seed=2)
    sample = payload[:1 << 20]
    assert len(zlib.compress(sample, 1)) > 0.99 * len(sample)       # random: incompressible
