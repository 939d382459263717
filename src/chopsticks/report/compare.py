"""`report compare`: how each figure changed from a baseline run, with a 95 % confidence interval
and a verdict.

One file per side: the interval comes from a moving-block bootstrap over the run's whole measured
seconds (blocks of ceil(sqrt(n)) seconds keep the series' autocorrelation). Compared statistics: IOPS
and MiB/s as the mean of the per-second values, percentiles as the median of the per-second
percentiles. Several files per side: a bootstrap over runs, each run contributing its summary
figure (mean over runs). A figure is `better` or `worse` when the interval excludes 0 and the
change is at least the threshold (10 % by default, as airspeed velocity does: within one run the
seconds cannot show how much a second run on a shared cluster would differ); otherwise
`no significant change`."""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass

import numpy as np

from chopsticks.report.result import Result, number

# (summary/series column, name in the table, +1 if higher is better, per-second statistic)
FIGURES = (("iops", "IOPS", 1, np.mean), ("mib_s", "MiB/s", 1, np.mean),
           ("lat_p50_us", "p50 µs", -1, np.median), ("lat_p99_us", "p99 µs", -1, np.median),
           ("lat_p99_9_us", "p99.9 µs", -1, np.median))
RESAMPLES = 4000
CONFIDENCE = 0.95
DEFAULT_THRESHOLD_PCT = 10.0           # as airspeed velocity's default factor 1.1: smaller changes are noise on a shared cluster
NO_CHANGE = "no significant change"
CSV_COLUMNS = ("candidate", "op", "figure", "baseline", "candidate_value", "change_pct", "ci_low_pct",
               "ci_high_pct", "verdict", "samples")


@dataclass(frozen=True)
class Change:
    candidate_name: str
    op: str
    figure: str
    baseline: float             # the compared statistic on each side (see the module's docstring)
    candidate: float
    change_pct: float
    ci_low_pct: float
    ci_high_pct: float
    verdict: str
    samples: str                # what the interval was drawn over: "12s/12s" or "3 runs/3 runs"


def _block_bootstrap(x: np.ndarray, stat, rng: np.random.Generator) -> np.ndarray:
    """RESAMPLES values of stat over circular moving-block resamples of x."""
    n = len(x)
    block = max(1, math.ceil(math.sqrt(n)))
    starts = rng.integers(0, n, size=(RESAMPLES, -(-n // block)))
    idx = ((starts[:, :, None] + np.arange(block)) % n).reshape(RESAMPLES, -1)[:, :n]
    return stat(x[idx], axis=1)


def _iid_bootstrap(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return x[rng.integers(0, len(x), size=(RESAMPLES, len(x)))].mean(axis=1)


def _verdict(change: float, low: float, high: float, direction: int, threshold_pct: float) -> str:
    if (low <= 0.0 <= high) or abs(change) < threshold_pct or not math.isfinite(change):
        return NO_CHANGE
    return "better" if change * direction > 0 else "worse"


def _change(name: str, op: str, title: str, direction: int, a: np.ndarray, b: np.ndarray, boot_a: np.ndarray,
            boot_b: np.ndarray, point_a: float, point_b: float, samples: str, threshold_pct: float) -> Change:
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = (boot_b / boot_a - 1.0) * 100.0
        change = (point_b / point_a - 1.0) * 100.0 if point_a else math.nan
    rel = rel[np.isfinite(rel)]
    tail = (1.0 - CONFIDENCE) / 2 * 100
    low, high = (np.percentile(rel, [tail, 100 - tail]) if len(rel) else (math.nan, math.nan))
    return Change(name, op, title, point_a, point_b, change, float(low), float(high),
                  _verdict(change, low, high, direction, threshold_pct), samples)


def _per_second(baseline: Result, candidate: Result, op: str, threshold_pct: float, rng) -> list[Change]:
    sa, sb = baseline.measured_seconds(op), candidate.measured_seconds(op)
    own = op in baseline.own_ops
    changes = []
    for column, title, direction, stat in FIGURES:
        if direction > 0 and not own:
            continue                    # a derived timing's count is its parent op's
        a, b = sa[column][np.isfinite(sa[column])], sb[column][np.isfinite(sb[column])]
        if len(a) < 2 or len(b) < 2:
            continue
        changes.append(_change(candidate.name, op, title, direction, a, b, _block_bootstrap(a, stat, rng),
                               _block_bootstrap(b, stat, rng), float(stat(a)), float(stat(b)),
                               f"{len(a)}s/{len(b)}s", threshold_pct))
    return changes


def _per_run(baseline: list[Result], candidate: list[Result], op: str, threshold_pct: float, rng) -> list[Change]:
    name = candidate[0].name if len(candidate) == 1 else f"{candidate[0].name} +{len(candidate) - 1}"
    changes = []
    for column, title, direction, _ in FIGURES:
        a = np.array([number(r.row(op).get(column)) for r in baseline])
        b = np.array([number(r.row(op).get(column)) for r in candidate])
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        if not len(a) or not len(b):
            continue
        changes.append(_change(name, op, title, direction, a, b, _iid_bootstrap(a, rng), _iid_bootstrap(b, rng),
                               float(a.mean()), float(b.mean()), f"{len(a)} runs/{len(b)} runs", threshold_pct))
    return changes


def compare(baseline: list[Result], candidates: list[list[Result]], threshold_pct: float = DEFAULT_THRESHOLD_PCT,
            seed: int = 1) -> list[Change]:
    """Changes of every op both sides ran (and "all"), for each candidate group against the baseline."""
    rng = np.random.default_rng(seed)
    changes = []
    for group in candidates:
        ops = [op for op in [*baseline[0].ops, "all"] if all(r.row(op) for r in baseline + group)]
        if len(baseline) == 1 and len(group) == 1:
            for op in (op for op in ops if op != "all"):            # per-second series are per op
                changes += _per_second(baseline[0], group[0], op, threshold_pct, rng)
        else:
            for op in ops:
                changes += _per_run(baseline, group, op, threshold_pct, rng)
    return changes


def format_value(v: float) -> str:
    """1 decimal, or 3 significant digits for small values (null backend latencies are ~0.05 µs)."""
    if not math.isfinite(v):
        return "-"
    return f"{v:,.1f}" if abs(v) >= 100 else f"{v:.3g}"


def table(changes: list[Change]) -> str:
    """Fixed-width table of changes."""
    head = ("candidate", "op", "figure", "baseline", "candidate", "change %", "95% CI %", "verdict", "over")
    cells = [head] + [(c.candidate_name, c.op, c.figure, format_value(c.baseline), format_value(c.candidate),
                       f"{c.change_pct:+.1f}" if math.isfinite(c.change_pct) else "-",
                       f"[{c.ci_low_pct:+.1f}, {c.ci_high_pct:+.1f}]", c.verdict, c.samples) for c in changes]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
    numeric = {3, 4, 5, 6}
    return "\n".join("  ".join(c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
                     for r in cells)


def write_csv(path, changes: list[Change]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for c in changes:
            w.writerow([c.candidate_name, c.op, c.figure, f"{c.baseline:.3f}", f"{c.candidate:.3f}",
                        f"{c.change_pct:.2f}", f"{c.ci_low_pct:.2f}", f"{c.ci_high_pct:.2f}", c.verdict, c.samples])
