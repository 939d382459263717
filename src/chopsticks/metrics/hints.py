"""Hints printed after the summary: a line each, only when the run's data show a known cause
behind its numbers (a TCP stall, the generator's own CPU, a rate the generator or the in-flight
cap could not hold, one kind of error, a collapse after the first seconds)."""
from __future__ import annotations

import textwrap

import numpy as np

from chopsticks.engine.contract import RunOutcome
from chopsticks.engine.shm import TsField
from chopsticks.engine.worker_load import WorkerLoad
from chopsticks.metrics.summary import LATE_NS, errors_by_kind
from chopsticks.plan import SCHEDULE_LAG

# GET stall: RGW's beast frontend sends a reply's body after its headers; when the client's
# delayed ACK holds back the ACK of the headers, Nagle on the server holds the body ~40 ms.
STALL_GAP_MS = (25.0, 60.0)         # GET p50 minus TTFB p50
STALL_TTFB_SHARE = 0.25             # TTFB p50 at most this share of the GET p50
SMALL_OBJECT_BYTES = 1 << 20
# Generator limit: a worker's CPU busy (running + waiting for it) over the measured seconds. Busy is
# a lower bound, and a wait still going on when a second is sampled is counted only once the
# thread runs (a loaded host shifts up to ~10 % between seconds), hence not 0.9 or more.
BUSY_SHARE = 0.8
# Rate mode: the schedule lag grows when the last third of the measured seconds averages this
# many times the first third's (and more than LATE_NS).
LAG_GROWTH = 2.0
SLOTS_FULL = 0.9                    # ops in flight on average, as a share of --iodepth × workers
# One error kind dominates when it is this share of the errors (stalls counted as a kind).
DOMINANT_SHARE = 0.8
# IOPS collapse: the first FIRST_SECONDS measured seconds set the level; from the second where
# IOPS fall under half of it and stay under (median of the rest), the run changed.
FIRST_SECONDS = 3
MIN_SECONDS = 6

KIND_ADVICE = {
    "auth": "check access_key and secret_key in the S3 config",
    "no_such_bucket": "the bucket is gone or misnamed",
    "not_found": "objects are missing (deleted by another op or client?)",
    "connection": "the endpoint refused or dropped connections: is the gateway up?",
    "timeout": "no reply within driver_config.timeout: the gateway or the cluster is overloaded",
    "throttled": "the gateway asks for less load (SlowDown/429)",
    "http_5xx": "the gateway fails requests: see its log",
    "stalled": "ops stayed in flight longer than --op-timeout: OSDs or the gateway hung or are overloaded",
    "EIO": "the OSDs reported I/O errors: see `ceph health detail`",
}


def hints(out: RunOutcome, rows: list[dict], name_of, load: WorkerLoad | None = None) -> list[str]:
    """The hints that apply to this run, in a fixed order."""
    by_op = {row["op"]: row for row in rows}
    generator = _generator_limit(out, load)
    found = [_get_stall(by_op), generator, None if generator else _lag_growing(out), _dominant_error(out, name_of),
             _iops_collapse(out)]
    return [h for h in found if h]


def _get_stall(by_op: dict[str, dict]) -> str | None:
    """Small GETs whose p50 sits ~40 ms above their time to first byte."""
    get, ttfb = by_op.get("get"), by_op.get("get.ttfb")
    if not (get and ttfb and get["ops"] and ttfb["ops"]):
        return None
    gap_ms = (get["lat_p50_us"] - ttfb["lat_p50_us"]) / 1e3
    if not (STALL_GAP_MS[0] <= gap_ms <= STALL_GAP_MS[1] and ttfb["lat_p50_us"] <= STALL_TTFB_SHARE * get["lat_p50_us"]
            and get["bytes"] / get["ops"] <= SMALL_OBJECT_BYTES):
        return None
    return (f"GET p50 {get['lat_p50_us'] / 1e3:.1f} ms but first byte after {ttfb['lat_p50_us'] / 1e3:.1f} ms: "
            "the body waits for a delayed ACK (RGW beast sends headers and body apart, Nagle holds the body). "
            "Set driver_config: {tcp_quickack: true} in the S3 config, or tcp_nodelay=1 in the gateway's rgw frontends")


def _generator_limit(out: RunOutcome, load: WorkerLoad | None) -> str | None:
    """A worker that wanted its CPU (a thread running or runnable) nearly all the measured time."""
    averages = load.averages() if load else None
    if averages is None:
        return None
    ran, busy = (np.minimum(a, 1.0) for a in averages)     # a tick's sampling jitter aside
    worker = int(np.argmax(busy))
    if busy[worker] < BUSY_SHARE:
        return None
    waited = max(0.0, busy[worker] - ran[worker])
    n = int(np.count_nonzero(busy >= BUSY_SHARE))
    who = f"worker {worker}" if n == 1 else f"{n} of {len(busy)} workers (worker {worker})"
    return (f"{who} kept its CPU busy {busy[worker]:.0%} of the run (ran {ran[worker]:.0%}, waited for the "
            f"CPU {waited:.0%}): the load generator, not Ceph, set the pace. Add --procs (now {out.plan.procs}), "
            "or hosts" + ("; other processes share these CPUs" if waited >= 0.2 else ""))


def _lag_growing(out: RunOutcome) -> str | None:
    """Rate mode: ops sent later and later. With in-flight slots to spare the generator fell
    behind; with every slot (--iodepth × workers) busy, the cluster's latency capped the rate.
    Slots in use are counted by Little's law: the service time of a second's ops, summed, over
    the second (a sampled gauge can miss a slot freed and refilled between samples)."""
    if out.plan.rate is None or SCHEDULE_LAG not in out.op_names:
        return None
    ts = out.ts[:, out.plan.ramp_s:int(out.measured_s) + out.plan.ramp_s].sum(axis=0)     # [secs][ops][F]
    third = len(ts) // 3
    if third < 1:
        return None
    lag = ts[:, out.op_names.index(SCHEDULE_LAG)]
    early_ns, late_ns = (lag[part, TsField.LAT_SUM_NS].sum() / max(1, lag[part, TsField.OPS].sum())
                         for part in (slice(0, third), slice(-third, None)))
    if late_ns < max(LATE_NS, LAG_GROWTH * early_ns):
        return None
    service = [out.op_names.index(f"{op}.service") for op in out.plan.target.op_names]     # as Plan.op_names
    in_use = ts[-third:, service, TsField.LAT_SUM_NS].sum() / 1e9 / third
    slots = out.plan.max_inflight * out.plan.procs
    grew = f"rate mode: ops were sent later and later (schedule lag {early_ns / 1e6:,.1f} ms → {late_ns / 1e6:,.1f} ms)"
    if in_use < SLOTS_FULL * slots:
        return (f"{grew} with {in_use:,.1f} of the {slots:,} ops allowed in flight in use: the load generator, "
                "not Ceph, fell behind. Add --procs or hosts")
    return (f"{grew} with the ops allowed in flight (--iodepth × workers = {slots:,}) all in use: the cluster's "
            "latency capped the rate. Raise --iodepth, or ask for less")


def _dominant_error(out: RunOutcome, name_of) -> str | None:
    """Errors (stalls included) of which one kind makes most."""
    counts: dict[str, int] = {}
    examples: dict[str, tuple[int, str, str]] = {}       # kind -> (count, op, name) of its commonest
    for op, names in errors_by_kind(out, name_of).items():
        for name, n in names.items():
            kind = name.split(":", 1)[0]
            counts[kind] = counts.get(kind, 0) + n
            if n > examples.get(kind, (0,))[0]:
                examples[kind] = (n, op, name)
    total = sum(counts.values())
    if not total:
        return None
    kind, n = max(counts.items(), key=lambda kv: kv[1])
    if n < DOMINANT_SHARE * total:
        return None
    _, op, name = examples[kind]
    message = next((w["message"] for w in out.workers if w.get("message")), "")
    advice = KIND_ADVICE.get(kind, "")
    if kind == "stalled" and op.startswith("task:"):       # a scenario's own code, not a client call
        advice = f"the scenario's {op[5:]} task stayed busy longer than --op-timeout between client calls"
    return (f"{n / total:.0%} of the errors are {kind} ({n:,}, mostly {name} on {op}"
            + (f"; worker: {message}" if message else "") + ")" + (f": {advice}" if advice else ""))


def _median(values: np.ndarray) -> float:
    """The median, from a sort: np.median's first call imports numpy.ma, ~15 ms of every run's CPU."""
    ordered = np.sort(values)
    mid = len(ordered) // 2
    return float(ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2)


def _iops_collapse(out: RunOutcome) -> str | None:
    """IOPS under half of the first seconds' level from some second on."""
    own = [o for o, name in enumerate(out.op_names) if name not in out.plan.derived_ops]
    whole = int(out.measured_s) + out.plan.ramp_s      # the last, partial second left out
    iops = out.ts[:, out.plan.ramp_s:whole][:, :, own, TsField.OPS].sum(axis=(0, 2)).astype(float)
    if len(iops) < MIN_SECONDS:
        return None
    level = _median(iops[:FIRST_SECONDS])
    if level <= 0:
        return None
    for s in range(FIRST_SECONDS, len(iops)):
        rest = _median(iops[s:])
        if iops[s] < level / 2 and rest < level / 2:
            return (f"IOPS fell from {level:,.0f} to {rest:,.0f} (median) at second {out.plan.ramp_s + s} "
                    "and stayed down: a cache filling, PGs peering or a recovery? Compare with `ceph -s` "
                    "over the run, or run longer with --ramp past it")
    return None


def wrap(lines: list[str], width: int | None) -> str:
    """Hint lines as printed: 'hint: ...', folded to `width` if given."""
    out = []
    for line in lines:
        text = f"hint: {line}"
        out.append(textwrap.fill(text, width, subsequent_indent="      ") if width else text)
    return "\n".join(out)

