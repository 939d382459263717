"""One exact cluster result from the hosts' results: their worker arrays concatenated, seconds
aligned on the common start, so the existing summaries sum them. A host lost mid-run is rebuilt
from what it streamed (exact histograms up to its last second)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from chopsticks.cluster import stream
from chopsticks.cluster.hosts import Host
from chopsticks.engine.pool import RunOutcome
from chopsticks.engine.shm import ERR_CODES, N_PHASES, NBUCKETS, TS_FIELDS
from chopsticks.metrics.histogram import percentiles_ns
from chopsticks.metrics.summary import summarize
from chopsticks.plan import Plan


@dataclass
class HostResult:
    host: Host
    outcome: RunOutcome
    first_op_at: float | None       # client wall clock when its first worker began its loop
    lost_at_s: int | None = None    # second since the start after which nothing more came


@dataclass
class StreamedSecond:
    ts: np.ndarray                  # int64[n_ops][TS_FIELDS]
    hist: np.ndarray                # uint64[N_PHASES][n_ops][NBUCKETS]
    errors: np.ndarray              # int64[N_PHASES][n_ops][ERR_CODES]
    cpu_pct: np.ndarray
    ramp: bool
    draining: bool

    @classmethod
    def decode(cls, msg: dict) -> StreamedSecond:
        return cls(stream.dense(msg["ts"], np.int64), stream.dense(msg["hist"], np.uint64),
                   stream.dense(msg["errors"], np.int64), np.asarray(msg["cpu_pct"], dtype=float),
                   msg["ramp"], msg["draining"])


TICK_PERCENTILES = (50.0, 99.0, 99.9)     # RunOutcome's tick_p50_ns, tick_p99_ns, tick_p99_9_ns


def tick_percentiles(hist_by_second: list[np.ndarray | None], n_ops: int) -> list[np.ndarray]:
    """[p50, p99, p99.9] (ns, each [secs][n_ops]) from per-second histogram deltas
    ([n_ops][NBUCKETS], or None where a second is missing)."""
    pcts = [np.full((len(hist_by_second), n_ops), np.nan) for _ in TICK_PERCENTILES]
    for s, h in enumerate(hist_by_second):
        if h is not None:
            for o in range(n_ops):
                values = percentiles_ns(h[o], TICK_PERCENTILES)
                for p, v in zip(pcts, values):
                    p[s, o] = v
    return pcts


def _tick_fields(pcts: list[np.ndarray]) -> dict:
    return dict(zip(("tick_p50_ns", "tick_p99_ns", "tick_p99_9_ns"), pcts))


def from_stream(plan: Plan, op_names: tuple[str, ...], seconds: dict[int, StreamedSecond],
                started_at: float, why: str) -> RunOutcome:
    """A lost host's outcome from its stream: its totals in its first worker's rows; `why` goes
    into its workers' messages (the note naming the host is the cluster's)."""
    n_ops, secs = len(op_names), (max(seconds) + 1 if seconds else 0)
    hist = np.zeros((plan.procs, N_PHASES, n_ops, NBUCKETS), dtype=np.uint64)
    ts = np.zeros((plan.procs, secs, n_ops, TS_FIELDS), dtype=np.int64)
    errors = np.zeros((plan.procs, N_PHASES, n_ops, ERR_CODES), dtype=np.int64)
    for s, sec in seconds.items():
        hist[0] += sec.hist
        errors[0] += sec.errors
        ts[0, s] = sec.ts
    pcts = tick_percentiles([seconds[s].hist.sum(axis=0) if s in seconds else None for s in range(secs)], n_ops)
    workers = [{"index": i, "pid": 0, "cpu": -1, "state": "lost", "cpu_user_s": 0.0, "cpu_sys_s": 0.0,
                "submitted": 0, "completed": 0, "exit": "lost", "message": why} for i in range(plan.procs)]
    ramp_end_ns = plan.ramp_s * 1_000_000_000
    deadline = ramp_end_ns + int(plan.duration_s * 1e9) if plan.duration_s is not None else 2**62
    return RunOutcome(plan=plan, info={}, op_names=op_names, hist=hist, ts=ts, errors=errors, **_tick_fields(pcts),
                      workers=workers, start_ns=0, ramp_end_ns=ramp_end_ns,
                      end_ns=min(secs * 1_000_000_000, deadline), started_at=started_at, partial=True)


def _relative_end_ns(out: RunOutcome) -> int:
    return out.end_ns - out.start_ns


def merge(plan: Plan, results: list[HostResult], pcts: list[np.ndarray], started_at: float,
          stop_signal: int | None, notes: list[str]) -> RunOutcome:
    """The cluster's RunOutcome: every host's workers side by side, second s of each host at
    second s of the cluster (they started at one instant)."""
    outs = [r.outcome for r in results]
    secs = max(o.ts.shape[1] for o in outs)
    ts = np.concatenate([np.pad(o.ts, ((0, 0), (0, secs - o.ts.shape[1]), (0, 0), (0, 0))) for o in outs])
    n_ops = len(outs[0].op_names)
    pcts = [np.vstack([p[:secs], np.full((max(0, secs - len(p)), n_ops), np.nan)]) for p in pcts]
    workers, cpus, info = [], [], {}
    for r in results:
        for w in r.outcome.workers:
            workers.append({"host": r.host.name, **w, "index": r.host.first_worker + w["index"]})
            cpus.append(w["cpu"])
        for key, value in r.outcome.info.items():
            if isinstance(value, dict):
                info.setdefault(key, {}).update(value)
            else:
                info.setdefault(key, value)
    for r in results:
        notes += [f"host {r.host.name}: {n}" for n in r.outcome.notes
                  if not n.startswith("interrupted by") or stop_signal is None]
    total = len(workers)
    merged_plan = dataclasses.replace(plan, procs=total, cpus=tuple(cpus), first_worker=0, all_workers=total)
    ramp_end_ns = plan.ramp_s * 1_000_000_000
    return RunOutcome(
        plan=merged_plan, info=info, op_names=outs[0].op_names, hist=np.concatenate([o.hist for o in outs]),
        ts=ts, errors=np.concatenate([o.errors for o in outs]), **_tick_fields(pcts), workers=workers, start_ns=0, ramp_end_ns=ramp_end_ns, end_ns=max(_relative_end_ns(o) for o in outs),
        started_at=started_at, partial=bool(notes) or stop_signal is not None or any(o.partial for o in outs),
        stop_signal=stop_signal, notes=notes)


def first_op_spread_ms(results: list[HostResult]) -> float | None:
    """How far apart (ms, client clock) the hosts' first operations began."""
    starts = [r.first_op_at for r in results if r.first_op_at is not None]
    return (max(starts) - min(starts)) * 1e3 if len(starts) > 1 else None


# The JSON's "hosts" entries (one per host, in host order):
#   host: its Dask worker name (the hostname by default); address: its Dask worker address;
#   clock_offset_ms: its wall clock minus the client's (round-trip estimate, ± rtt_ms / 2);
#   first_op_ms: when its first worker began, ms after the earliest host's (client clock);
#   lost_at_s: the second after which it sent nothing (null if it finished); summary: its own
#   summary rows (same columns as the top level); workers: its workers (global index).
def host_entries(results: list[HostResult]) -> list[dict]:
    starts = [r.first_op_at for r in results if r.first_op_at is not None]
    first = min(starts) if starts else None
    entries = []
    for r in results:
        h = r.host
        entries.append({
            "host": h.name, "address": h.address, "clock_offset_ms": h.clock_offset_s * 1e3, "rtt_ms": h.rtt_s * 1e3,
            "first_op_ms": (r.first_op_at - first) * 1e3 if r.first_op_at is not None else None,
            "lost_at_s": r.lost_at_s, "summary": summarize(r.outcome),
            "workers": [{**w, "index": h.first_worker + w["index"]} for w in r.outcome.workers],
        })
    return entries
