"""Bucket math, merge and percentiles of the latency histograms, in numpy. Every bucket bound
comes from _fast/histogram.pxd (through bucket_lower_bounds), the one definition."""
from __future__ import annotations

import numpy as np

from chopsticks._fast.histogram import CONSTANTS, bucket_lower_bounds

NBUCKETS = CONSTANTS["nbuckets"]
LOWER_NS = bucket_lower_bounds()
# Exclusive upper bounds; the last bucket also holds everything past its nominal bound (2**40 ns).
UPPER_NS = np.append(LOWER_NS[1:], 2 * LOWER_NS[-1] - LOWER_NS[-2])
MID_NS = LOWER_NS + (UPPER_NS - LOWER_NS - 1) / 2.0       # value reported for a bucket

PERCENTILES = (50.0, 90.0, 99.0, 99.9, 99.99)


def percentiles_ns(hist: np.ndarray, ps=PERCENTILES, max_ns: float | None = None) -> list[float]:
    """Nearest-rank percentiles (ns) of a histogram of NBUCKETS counts; NaN when empty. Each is
    its bucket's midpoint (≤ 0.4 % from any value in it), capped at the exact max when known."""
    counts = np.asarray(hist, dtype=np.uint64)
    total = int(counts.sum())
    if total == 0:
        return [float("nan")] * len(ps)
    cum = np.cumsum(counts)
    ranks = np.maximum(1, np.ceil(np.asarray(ps, dtype=float) / 100.0 * total)).astype(np.uint64)
    values = MID_NS[np.searchsorted(cum, ranks, side="left")]
    if max_ns is not None:
        values = np.minimum(values, max_ns)
    return [float(v) for v in values]


def to_sparse(hist: np.ndarray) -> list[list[int]]:
    """[[bucket, count], ...] for the non-empty buckets (compact form for JSON)."""
    idx = np.nonzero(hist)[0]
    return [[int(i), int(hist[i])] for i in idx]


def from_sparse(pairs: list[list[int]]) -> np.ndarray:
    hist = np.zeros(NBUCKETS, dtype=np.uint64)
    for i, c in pairs:
        hist[int(i)] += int(c)
    return hist


def scheme() -> dict:
    """How to read the buckets of a saved histogram (so results can be re-merged later)."""
    return {"unit": "ns", "kind": "log-linear", "sub_bits": CONSTANTS["sub_bits"], "nbuckets": NBUCKETS,
            "lower_bound_of_bucket_i": "i < 256: i; else m << (e - sub_bits) with e = (i-256)//128 + 8, m = (i-256)%128 + 128"}
