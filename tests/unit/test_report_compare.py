"""report/compare.py on synthetic results whose truth is known: the same distribution is no
significant change, a real shift is significant with the right sign, runs per side work."""
import csv

import numpy as np
import pytest

from chopsticks.report.compare import NO_CHANGE, compare, table, write_csv
from chopsticks.report.result import check_document


def synthetic(name, iops_mean, p99_mean, seconds=30, seed=0, noise=0.03):
    """A result document with per-second IOPS and p99 drawn around the given means."""
    rng = np.random.default_rng(seed)
    iops = rng.normal(iops_mean, iops_mean * noise, seconds).round()
    p99 = rng.normal(p99_mean, p99_mean * noise, seconds)
    series = [{"second": s, "phase": "measured", "op": "read", "iops": int(iops[s]), "bytes": int(iops[s]) * 4096,
               "errors": 0, "stalled": 0, "inflight": 16, "mib_s": iops[s] * 4096 / 2**20, "lat_mean_us": p99[s] / 3,
               "lat_max_us": p99[s] * 2, "lat_p50_us": p99[s] / 4, "lat_p99_us": p99[s], "lat_p99_9_us": p99[s] * 1.5}
              for s in range(seconds)]
    row = {"op": "read", "ops": int(iops.sum()), "errors": 0, "stalled": 0, "iops": float(iops.mean()),
           "bytes": int(iops.sum()) * 4096, "mib_s": float(iops.mean()) * 4096 / 2**20, "lat_mean_us": p99_mean / 3,
           "lat_p50_us": p99_mean / 4, "lat_p90_us": p99_mean / 2, "lat_p99_us": p99_mean, "lat_p99_9_us": p99_mean * 1.5,
           "lat_p99_99_us": p99_mean * 2, "lat_max_us": p99_mean * 3}
    return check_document({"command": ["chopsticks", "bench", "rbd"], "measured_s": float(seconds),
                           "summary": [row, {**row, "op": "all"}], "timeseries": series}, name)


def by_figure(changes):
    return {(c.op, c.figure): c for c in changes}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_distribution_is_no_significant_change(seed):
    a, b = synthetic("a.json", 5000, 900, seed=seed), synthetic("b.json", 5000, 900, seed=seed + 100)
    changes = by_figure(compare([a], [[b]]))
    for figure in ("IOPS", "MiB/s", "p50 µs", "p99 µs", "p99.9 µs"):
        c = changes[("read", figure)]
        assert c.verdict == NO_CHANGE, c
        assert c.ci_low_pct < 0 < c.ci_high_pct or abs(c.change_pct) < 5


def test_a_real_shift_is_significant_with_the_right_sign():
    slow, fast = synthetic("qd1.json", 1500, 2000, seed=1), synthetic("qd16.json", 6000, 4000, seed=2)
    changes = by_figure(compare([slow], [[fast]]))
    iops, p99 = changes[("read", "IOPS")], changes[("read", "p99 µs")]
    assert iops.verdict == "better" and 280 < iops.ci_low_pct <= iops.change_pct <= iops.ci_high_pct < 320
    assert p99.verdict == "worse" and p99.change_pct == pytest.approx(100, abs=5)
    back = by_figure(compare([fast], [[slow]]))
    assert back[("read", "IOPS")].verdict == "worse" and back[("read", "p99 µs")].verdict == "better"


def test_a_change_under_the_threshold_is_never_a_verdict():
    a, b = synthetic("a.json", 5000, 900, seed=1, noise=0.001), synthetic("b.json", 5100, 900, seed=2, noise=0.001)
    c = by_figure(compare([a], [[b]], threshold_pct=5.0))[("read", "IOPS")]
    assert c.ci_low_pct > 0 and c.verdict == NO_CHANGE            # significant, but only +2 %
    assert by_figure(compare([a], [[b]], threshold_pct=1.0))[("read", "IOPS")].verdict == "better"


def test_several_runs_per_side_bootstrap_over_runs(tmp_path):
    base = [synthetic(f"a{i}.json", m, 900, seed=i) for i, m in enumerate((4900, 5000, 5100))]
    cand = [synthetic(f"b{i}.json", m, 900, seed=10 + i) for i, m in enumerate((9800, 10000, 10200))]
    changes = compare(base, [cand])
    iops = by_figure(changes)[("all", "IOPS")]
    assert iops.samples == "3 runs/3 runs" and iops.verdict == "better"
    assert iops.change_pct == pytest.approx(100, abs=1) and iops.ci_low_pct > 90
    text = table(changes)
    assert "b0.json +2" in text and "better" in text
    write_csv(tmp_path / "c.csv", changes)
    rows = list(csv.DictReader(open(tmp_path / "c.csv")))
    assert {r["figure"] for r in rows} >= {"IOPS", "p99 µs"} and rows[0]["verdict"] in ("better", "worse", NO_CHANGE)


def test_derived_timings_are_compared_by_latency_only():
    a, b = synthetic("a.json", 5000, 900, seed=1), synthetic("b.json", 5000, 900, seed=2)
    for r in (a, b):             # get.ttfb: a timing of part of each read, saved without IOPS, seconds 0-9 only
        doc = r.doc
        doc["summary"].insert(1, {**doc["summary"][0], "op": "read.ttfb", "iops": None, "mib_s": None})
        doc["timeseries"] += [{**row, "op": "read.ttfb"} for row in doc["timeseries"] if row["second"] < 10]
    figures = {(c.op, c.figure) for c in compare([a], [[b]])}
    assert ("read.ttfb", "p99 µs") in figures and ("read.ttfb", "IOPS") not in figures
    assert a.own_ops == ["read"]
    from chopsticks.report.charts import all_ops_iops
    seconds, iops = all_ops_iops(a)
    assert len(seconds) == 30 and iops.sum() == a.row("read")["ops"]
