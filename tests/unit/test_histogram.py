"""The histogram's buckets and percentiles, against exact numpy computations."""
import numpy as np
import pytest

from chopsticks._fast import histogram as fast
from chopsticks.metrics.histogram import LOWER_NS, NBUCKETS, UPPER_NS, from_sparse, percentiles_ns, to_sparse


def test_every_value_falls_in_its_bucket():
    rng = np.random.default_rng(7)
    values = np.concatenate([np.arange(0, 2000), rng.integers(0, 10**12, 20000), [2**40 - 1]]).astype(np.uint64)
    for v in values:
        i = fast.index_of(int(v))
        assert LOWER_NS[i] <= v < UPPER_NS[i]
    assert UPPER_NS[-1] == 2**40


def test_bucket_width_is_within_one_percent_of_its_lower_bound():
    assert np.all(UPPER_NS[:256] - LOWER_NS[:256] == 1)          # below 256 ns: exact
    lower, upper = LOWER_NS[256:].astype(float), UPPER_NS[256:].astype(float)
    assert np.all((upper - lower) / lower <= 1 / 128 + 1e-12)
    assert np.all(np.diff(LOWER_NS.astype(np.int64)) > 0)
    assert LOWER_NS[-1] >= 100 * 10**9          # reaches past 100 s


def test_values_past_the_range_land_in_the_last_bucket():
    assert fast.index_of(2**50) == NBUCKETS - 1


def test_merged_percentiles_match_numpy_within_one_percent():
    rng = np.random.default_rng(42)
    # 4 "workers" with different latency distributions (µs to seconds), merged as the parent does.
    parts = [rng.lognormal(mean=m, sigma=s, size=50_000) for m, s in ((8, 0.5), (10, 1.0), (12, 0.3), (14, 2.0))]
    hists = np.zeros((4, NBUCKETS), dtype=np.uint64)
    for h, values in zip(hists, parts):
        fast.record_values(h, values.astype(np.uint64))
    merged = hists.sum(axis=0)
    everything = np.concatenate(parts).astype(np.uint64)
    ps = (1, 25, 50, 90, 99, 99.9, 99.99)
    ours = percentiles_ns(merged, ps)
    exact = np.percentile(everything, ps, method="inverted_cdf")
    for p, got, want in zip(ps, ours, exact):
        assert got == pytest.approx(float(want), rel=0.01), p


def test_percentiles_are_capped_at_the_exact_max_and_nan_when_empty():
    h = np.zeros(NBUCKETS, dtype=np.uint64)
    assert np.isnan(percentiles_ns(h, (50,))[0])
    fast.record_values(h, np.array([1_000_000], dtype=np.uint64))
    assert percentiles_ns(h, (50,), max_ns=1_000_000)[0] == 1_000_000


def test_sparse_round_trip():
    h = np.zeros(NBUCKETS, dtype=np.uint64)
    fast.record_values(h, np.array([5, 5, 300, 10**9], dtype=np.uint64))
    assert np.array_equal(from_sparse(to_sparse(h)), h)
    assert len(to_sparse(h)) == 3


def test_record_values_rejects_a_wrong_size():
    with pytest.raises(ValueError):
        fast.record_values(np.zeros(10, dtype=np.uint64), np.zeros(1, dtype=np.uint64))


def test_an_op_completed_before_the_end_but_reaped_after_it_is_measured_in_both_records():
    """A loop turns to draining when it notices the deadline (or the stop): an op whose completion
    was stamped before that, and reaped after, belongs to the measured time in the histogram as in
    the per-second series. It was drain in one and measured in the other (CI: a 2 s `bench rados`
    read run's summary had 63,119 ops and the bytes of 63,122)."""
    from chopsticks.engine.shm import ERR_CODES, N_PHASES, TS_FIELDS, Phase, TsField

    s = 1_000_000_000
    n_ops, secs = 1, 4
    hist = np.zeros(N_PHASES * n_ops * NBUCKETS, dtype=np.uint64)
    ts = np.zeros(secs * n_ops * TS_FIELDS, dtype=np.int64)
    errors = np.zeros(N_PHASES * n_ops * ERR_CODES, dtype=np.int64)
    rec = fast.SlotRecorder(hist, ts, errors, {"n_ops": n_ops, "start_ns": 0, "ramp_end_ns": 0, "deadline_ns": 2 * s})
    rec.ok(0, 1000, 8192, s + 1)                     # second 1, measured
    rec.drain(2 * s + 5000)                          # the loop notices the deadline 5 µs after it
    rec.ok(0, 1000, 8192, 2 * s - 100)               # stamped before the deadline, reaped after: measured
    rec.ok(0, 1000, 8192, 2 * s + 10)                # after the deadline: drain
    by_phase = hist.reshape(N_PHASES, NBUCKETS).sum(axis=1)
    per_second = ts.reshape(secs, TS_FIELDS)
    assert by_phase[Phase.MEASURED] == 2 and by_phase[Phase.DRAIN] == 1
    assert per_second[:2, TsField.BYTES].sum() == 2 * 8192 and per_second[2, TsField.BYTES] == 8192
    # A stop noticed before the deadline: what completes from then on is drain.
    hist[:] = 0
    rec2 = fast.SlotRecorder(hist, ts, errors, {"n_ops": n_ops, "start_ns": 0, "ramp_end_ns": 0, "deadline_ns": 10 * s})
    rec2.ok(0, 1000, 8192, s)
    rec2.drain(s + 500)
    rec2.ok(0, 1000, 8192, s + 400)
    rec2.ok(0, 1000, 8192, s + 600)
    assert hist.reshape(N_PHASES, NBUCKETS).sum(axis=1)[[Phase.MEASURED, Phase.DRAIN]].tolist() == [2, 1]
