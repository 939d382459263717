"""Each hint from a run's recorded data built by hand: it appears when the data show its cause,
and stays away when they do not."""
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from chopsticks.engine.contract import RunOutcome
from chopsticks.engine.shm import ERR_CODES, ERR_STALLED, N_PHASES, NBUCKETS, TS_FIELDS, Phase, TsField
from chopsticks.engine.worker_load import WorkerLoad
from chopsticks.metrics.hints import hints
from chopsticks.plan import Plan

OPS = ("put", "get", "get.ttfb")


@dataclass(frozen=True)
class FakeTarget:
    op_names: tuple = OPS
    derived_ops: ClassVar[tuple] = ("get.ttfb",)


def name_of(code: int) -> str:
    return {1: "auth:SignatureDoesNotMatch", 2: "auth:403", 5: "connection:ECONNRESET", ERR_STALLED: "stalled"}[code]


def outcome(iops_per_second=(100,) * 8, errors=None, workers=None, procs=1) -> RunOutcome:
    secs = len(iops_per_second)
    ts = np.zeros((1, secs, len(OPS), TS_FIELDS), dtype=np.int64)
    ts[0, :, 0, TsField.OPS] = iops_per_second
    ts[0, :, 2, TsField.OPS] = 1000                         # derived: never counted as IOPS
    errs = np.zeros((1, N_PHASES, len(OPS), ERR_CODES), dtype=np.int64)
    for (op, code), n in (errors or {}).items():
        errs[0, Phase.MEASURED, op, code] = n
    plan = Plan(target=FakeTarget(), procs=procs, cpus=(0,) * procs, max_inflight=1, duration_s=float(secs))
    ticks = {f.name: np.zeros((secs, len(OPS))) for f in fields(RunOutcome) if f.name.startswith("tick_")}
    return RunOutcome(plan=plan, info={}, op_names=OPS, hist=np.zeros((1, N_PHASES, len(OPS), NBUCKETS), np.uint64),
                      ts=ts, errors=errs, workers=workers or [{"message": ""}], start_ns=0, ramp_end_ns=0,
                      end_ns=secs * 10**9, started_at=0.0, **ticks)


def get_rows(get_p50_ms, ttfb_p50_ms, bytes_per_get=4096) -> list[dict]:
    return [{"op": "get", "ops": 1000, "bytes": 1000 * bytes_per_get, "lat_p50_us": get_p50_ms * 1e3},
            {"op": "get.ttfb", "ops": 1000, "bytes": 0, "lat_p50_us": ttfb_p50_ms * 1e3}]


def load(ran, busy) -> WorkerLoad:
    """A WorkerLoad as if it had sampled these shares (one array per second, one value per worker)."""
    wl = WorkerLoad()
    wl.last = [{1: (0, 0)}] * len(ran[0])
    wl.ran, wl.busy = [np.array(r) for r in ran], [np.array(b) for b in busy]
    return wl


def test_get_stall_hint_only_for_small_gets_waiting_40ms_after_their_first_byte():
    (hint,) = hints(outcome(), get_rows(43.9, 1.6), name_of)
    assert hint.startswith("GET p50 43.9 ms but first byte after 1.6 ms") and "tcp_quickack: true" in hint
    assert hints(outcome(), get_rows(2.9, 2.6), name_of) == []              # tcp_quickack on
    assert hints(outcome(), get_rows(45.0, 40.0), name_of) == []            # slow server, not a stall
    assert hints(outcome(), get_rows(44.0, 2.0, bytes_per_get=64 << 20), name_of) == []  # big objects take time
    assert hints(outcome(), get_rows(44.0, 2.0)[:1], name_of) == []         # no TTFB measured


def test_generator_limit_hint_counts_the_time_a_worker_waited_for_its_cpu():
    (hint,) = hints(outcome(), [], name_of, load([[0.56], [0.6]], [[0.98], [0.99]]))
    assert hint.startswith("worker 0 kept its CPU busy 98% of the run (ran 58%, waited for the CPU 40%)")
    assert "--procs (now 1)" in hint and "other processes share these CPUs" in hint
    (hint,) = hints(outcome(procs=3), [], name_of, load([[0.2, 0.99, 1.03]], [[0.2, 0.99, 1.03]]))
    assert hint.startswith("2 of 3 workers (worker 2) kept its CPU busy 100%") and "share" not in hint
    assert hints(outcome(), [], name_of, load([[0.15], [0.14]], [[0.2], [0.22]])) == []     # rbd at QD 1
    assert hints(outcome(), [], name_of, load([[0.3]], [[0.75]])) == []                     # idle a quarter of the run
    assert hints(outcome(), [], name_of, WorkerLoad()) == []                                # nothing sampled


def test_error_hint_names_the_dominant_kind_and_its_commonest_form():
    out = outcome(errors={(0, 1): 119, (1, 2): 3, (1, 5): 2}, workers=[{"message": ""}])
    (hint,) = hints(out, [], name_of)
    assert hint.startswith("98% of the errors are auth (122, mostly auth:SignatureDoesNotMatch on put)")
    assert "secret_key" in hint
    assert hints(outcome(errors={(0, 1): 5, (0, 5): 5}), [], name_of) == []                   # no kind dominates
    out = outcome(errors={(1, ERR_STALLED): 7}, workers=[{"message": "stopped early: Input/output error"}])
    (hint,) = hints(out, [], name_of)
    assert hint.startswith("100% of the errors are stalled (7, mostly stalled on get; worker: stopped early")


def test_iops_collapse_hint_names_the_second_it_happened():
    (hint,) = hints(outcome([1000, 1100, 1050, 990, 1010, 300, 280, 320, 290]), [], name_of)
    assert hint.startswith("IOPS fell from 1,050 to 295 (median) at second 5")
    assert hints(outcome([1000, 1100, 1050, 990, 300, 1010, 1000, 990]), [], name_of) == []   # one bad second
    assert hints(outcome([1000, 1100, 300, 290]), [], name_of) == []                         # too short to tell


@dataclass(frozen=True)
class RateTarget:
    op_names: tuple = ("write",)
    derived_ops: ClassVar[tuple] = ()


def rate_outcome(lag_ms_per_second, inflight, iodepth=4) -> RunOutcome:
    """A rate-mode run of 1 worker: 1,000 writes a second sent `lag_ms` late, `inflight` in flight
    on average."""
    plan = Plan(target=RateTarget(), procs=1, cpus=(0,), max_inflight=iodepth, duration_s=float(len(lag_ms_per_second)),
                rate=5000.0)
    names, secs = plan.op_names, len(lag_ms_per_second)
    ts = np.zeros((1, secs, len(names), TS_FIELDS), dtype=np.int64)
    ts[0, :, names.index("write"), TsField.OPS] = 1000
    ts[0, :, names.index("write.service"), TsField.LAT_SUM_NS] = inflight * 10**9     # Little's law
    ts[0, :, names.index("schedule.lag"), TsField.OPS] = 1000
    ts[0, :, names.index("schedule.lag"), TsField.LAT_SUM_NS] = np.array(lag_ms_per_second) * 1e6 * 1000
    ticks = {f.name: np.zeros((secs, len(names))) for f in fields(RunOutcome) if f.name.startswith("tick_")}
    return RunOutcome(plan=plan, info={}, op_names=names, hist=np.zeros((1, N_PHASES, len(names), NBUCKETS), np.uint64),
                      ts=ts, errors=np.zeros((1, N_PHASES, len(names), ERR_CODES), dtype=np.int64),
                      workers=[{"message": ""}], start_ns=0, ramp_end_ns=0, end_ns=secs * 10**9, started_at=0.0, **ticks)


def test_rate_mode_lag_hint_tells_the_generator_from_the_in_flight_cap():
    (hint,) = hints(rate_outcome([0.2, 0.3, 1.0, 2.0, 3.0, 4.0], inflight=1), [], name_of)
    assert hint.startswith("rate mode: ops were sent later and later (schedule lag 0.2 ms → 3.5 ms) with 1.0 of the "
                           "4 ops allowed in flight in use: the load generator, not Ceph, fell behind")
    (hint,) = hints(rate_outcome([0.2, 0.3, 1.0, 2.0, 3.0, 4.0], inflight=4), [], name_of)
    assert "with the ops allowed in flight (--iodepth × workers = 4) all in use: the cluster's latency capped" in hint
    assert hints(rate_outcome([0.2, 0.3, 0.2, 0.3, 0.2, 0.3], inflight=1), [], name_of) == []     # kept up
    assert hints(rate_outcome([2.0, 2.5, 2.0, 2.5, 2.0, 2.5], inflight=4), [], name_of) == []     # late, not growing
    # a CPU-bound generator is said once, by the CPU hint
    (hint,) = hints(rate_outcome([0.2, 0.3, 1.0, 2.0, 3.0, 4.0], inflight=1), [], name_of, load([[1.0]], [[1.0]]))
    assert hint.startswith("worker 0 kept its CPU busy 100%")


def test_the_hints_median_is_numpys_on_odd_and_even_lengths():
    from chopsticks.metrics.hints import _median

    rng = np.random.default_rng(3)
    for n in (1, 2, 3, 10, 11):
        values = rng.integers(0, 10_000, n).astype(float)
        assert _median(values) == np.median(values)
