"""From what the workers recorded to the numbers users read: per-op and overall summaries and
the per-second series. Only the measured phase (after --ramp) counts in summaries."""
from __future__ import annotations

import math

import numpy as np

from chopsticks.engine.contract import ERR_STALLED, RunOutcome
from chopsticks.engine.shm import Phase, TsField
from chopsticks.metrics.histogram import LOWER_NS, PERCENTILES, percentiles_ns
from chopsticks.plan import SCHEDULE_LAG

OPS, BYTES, ERRORS, LAT_SUM, LAT_MAX = TsField.OPS, TsField.BYTES, TsField.ERRORS, TsField.LAT_SUM_NS, TsField.LAT_MAX_NS
MEASURED = Phase.MEASURED
LATE_NS = 1_000_000                 # an op sent more than 1 ms after its intended start is late
KEPT_UP = 0.97                      # achieved / asked rate below this: the rate was not reached
PCT_COLUMNS = tuple(f"lat_p{format(p, 'g').replace('.', '_')}_us" for p in PERCENTILES)

# Summary columns (CSV header = these names, JSON keys alike):
#   op: operation name, or "all"; ops: completed without error; errors: failed ops;
#   stalled: ops seen in flight longer than --op-timeout (not errors: they count again, as ops or
#            errors, if they complete); ops completing after the deadline or the stop (drain) are
#            left out of every figure here;
#   iops and mib_s over the measured seconds; bytes moved by successful ops;
#   lat_mean_us, lat_p50_us ... lat_p99_99_us, lat_max_us: completion latency of successful ops.
SUMMARY_COLUMNS = ("op", "ops", "errors", "stalled", "iops", "bytes", "mib_s", "lat_mean_us", *PCT_COLUMNS,
                   "lat_max_us")


def summarize(out: RunOutcome) -> list[dict]:
    """One row per op type that saw traffic, then "all" (the target's own ops, not its derived
    timings such as TTFB)."""
    ramp, end, secs = out.plan.ramp_s, out.measured_secs, max(out.measured_s, 1e-9)
    hist = out.hist[:, MEASURED].sum(axis=0)            # [n_ops][NBUCKETS]
    ts = out.ts[:, ramp:end].sum(axis=0)                # [secs][n_ops][F]
    errs = out.errors[:, MEASURED].sum(axis=0)          # [n_ops][ERR_CODES]
    lat_max = out.ts[:, ramp:end, :, LAT_MAX].max(axis=(0, 1)) if end > ramp else np.zeros(len(out.op_names))
    rows = []
    for o, name in enumerate(out.op_names):
        if hist[o].sum() or errs[o].sum():
            row = _row(name, hist[o], ts[:, o].sum(axis=0), errs[o], float(lat_max[o]), secs)
            if name in out.plan.derived_ops:          # a timing of part of other ops: latency only
                row.update(iops=math.nan, mib_s=math.nan)
            rows.append(row)
    own = [o for o, name in enumerate(out.op_names) if name not in out.plan.derived_ops]
    rows.append(_row("all", hist[own].sum(axis=0), ts[:, own].sum(axis=(0, 1)), errs[own].sum(axis=0),
                     float(lat_max[own].max(initial=0)), secs))
    return rows


def _row(name, hist, totals, errs, max_ns, secs) -> dict:
    ops = int(hist.sum())
    stalled = int(errs[ERR_STALLED])
    pcts = percentiles_ns(hist, PERCENTILES, max_ns=max_ns)
    row = {"op": name, "ops": ops, "errors": int(errs.sum()) - stalled, "stalled": stalled,
           "iops": ops / secs, "bytes": int(totals[BYTES]), "mib_s": totals[BYTES] / secs / 2**20,
           "lat_mean_us": totals[LAT_SUM] / ops / 1e3 if ops else math.nan}
    row.update({col: v / 1e3 for col, v in zip(PCT_COLUMNS, pcts)})
    row["lat_max_us"] = max_ns / 1e3 if ops else math.nan
    return row


def errors_by_kind(out: RunOutcome, name_of) -> dict[str, dict[str, int]]:
    """{op: {error name: count}} over the measured phase, e.g. {"write": {"EIO": 3, "stalled": 1}}."""
    errs = out.errors[:, MEASURED].sum(axis=0)
    result = {}
    for o, op in enumerate(out.op_names):
        codes = np.nonzero(errs[o])[0]
        if len(codes):
            result[op] = {name_of(int(c)): int(errs[o, c]) for c in codes}
    return result


# Time-series columns (one row per second and op, every second of the run, zeros included):
#   second: seconds since the start (ramp included); phase: ramp|measured|drain (drain: after the
#   deadline or the stop, only in-flight ops completing; the second of a Ctrl+C is measured);
#   op; iops (= ops completed in that second), bytes, errors, mib_s, as recorded by the workers;
#   stalled: ops in flight longer than --op-timeout, inflight: ops in flight (both the largest
#   count sampled in that second, every ~100 ms); lat_mean_us, lat_max_us exact for that second;
#   lat_p50_us, lat_p99_us, lat_p99_9_us from the merged histogram's change between the parent's
#   samples at the second boundaries (NaN if not sampled or no op completed).
TIMESERIES_COLUMNS = ("second", "phase", "op", "iops", "bytes", "errors", "stalled", "inflight", "mib_s",
                      "lat_mean_us", "lat_max_us", "lat_p50_us", "lat_p99_us", "lat_p99_9_us")
# Cluster columns, after those when the run watched its Ceph cluster (--watch-cluster; blank in a
# second the monitors did not answer): health (HEALTH_OK|HEALTH_WARN|HEALTH_ERR); osds_up;
# pgs_degraded (PGs whose state includes degraded); recovery_mib_s and cluster_op_s (client
# read + write ops/s), both as the cluster's mgr reports them.
CLUSTER_COLUMNS = ("health", "osds_up", "pgs_degraded", "recovery_mib_s", "cluster_op_s")
NO_CLUSTER_ANSWER = dict.fromkeys(CLUSTER_COLUMNS, "")


def phase_of_second(out: RunOutcome, sec: int) -> str:
    if sec < out.plan.ramp_s:
        return "ramp"
    return "measured" if sec < out.measured_secs else "drain"


def timeseries(out: RunOutcome, cluster: dict[int, dict] | None = None) -> list[dict]:
    """Rows of TIMESERIES_COLUMNS; with `cluster` ({second: the watch's figures}), CLUSTER_COLUMNS too."""
    ts = out.ts.sum(axis=0)
    lat_max = out.ts[..., LAT_MAX].max(axis=0)
    rows = []
    for sec in range(ts.shape[0]):
        phase = phase_of_second(out, sec)
        for o, op in enumerate(out.op_names):
            f = ts[sec, o]
            if op in out.plan.derived_ops and not (f[OPS] or f[ERRORS]):
                continue
            rows.append({
                "second": sec, "phase": phase, "op": op,
                "iops": int(f[OPS]), "bytes": int(f[BYTES]), "errors": int(f[ERRORS]),
                "stalled": int(f[TsField.STALLED]), "inflight": int(f[TsField.INFLIGHT]),
                "mib_s": f[BYTES] / 2**20,
                "lat_mean_us": f[LAT_SUM] / f[OPS] / 1e3 if f[OPS] else math.nan,
                "lat_max_us": lat_max[sec, o] / 1e3 if f[OPS] else math.nan,
                "lat_p50_us": out.tick_p50_ns[sec, o] / 1e3, "lat_p99_us": out.tick_p99_ns[sec, o] / 1e3,
                "lat_p99_9_us": out.tick_p99_9_ns[sec, o] / 1e3,
            })
            if cluster is not None:
                figures = cluster.get(sec)
                rows[-1].update({c: figures[c] for c in CLUSTER_COLUMNS} if figures else NO_CLUSTER_ANSWER)
    return rows


def rate_summary(out: RunOutcome, rows: list[dict]) -> dict | None:
    """Rate mode: what was asked, what was achieved, and how late the generator sent ops (the
    user must know when the load tool, not Ceph, was the limit). None in a closed loop."""
    plan = out.plan
    if plan.rate is None:
        return None
    lag = out.hist[:, MEASURED, out.op_names.index(SCHEDULE_LAG)].sum(axis=0)
    late = int(lag[LOWER_NS >= LATE_NS].sum())
    achieved = rows[-1]["ops"] / max(out.measured_s, 1e-9) if rows[-1]["ops"] else 0.0
    p50, p99, p999 = percentiles_ns(lag, (50.0, 99.0, 99.9))
    return {"asked_ops_s": plan.rate, "achieved_ops_s": achieved, "arrivals": plan.arrivals,
            "late_ops": late, "late_pct": 100.0 * late / max(1, int(lag.sum())),
            "lag_p50_us": p50 / 1e3, "lag_p99_us": p99 / 1e3, "lag_p99_9_us": p999 / 1e3,
            "kept_up": achieved >= KEPT_UP * plan.rate}


def rate_text(rate: dict) -> list[str]:
    lines = [f"rate: asked {rate['asked_ops_s']:,.0f} ops/s ({rate['arrivals']}), achieved {rate['achieved_ops_s']:,.0f} "
             f"ops/s; schedule lag p50 {rate['lag_p50_us']:,.1f} µs, p99 {rate['lag_p99_us']:,.1f} µs; "
             f"{rate['late_ops']:,} ops ({rate['late_pct']:.1f} %) sent more than 1 ms late"]
    if not rate["kept_up"]:
        lines.append(f"rate not reached: the generator (its CPU, or --iodepth ops in flight per worker) or the "
                     f"cluster could not keep up; latency is still timed from each op's intended start")
    return lines
