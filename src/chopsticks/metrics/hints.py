"""Hints printed after the summary: a line each, only when the run's data show a known cause
behind its numbers (a TCP stall, the generator's own CPU, one kind of error, a collapse after the
first seconds)."""
from __future__ import annotations

import textwrap

import numpy as np

from chopsticks.engine.pool import RunOutcome
from chopsticks.engine.shm import TsField
from chopsticks.engine.worker_load import WorkerLoad
from chopsticks.metrics.summary import errors_by_kind

# GET stall: RGW's beast frontend sends a reply's body after its headers; when the client's
# delayed ACK holds back the ACK of the headers, Nagle on the server holds the body ~40 ms.
STALL_GAP_MS = (25.0, 60.0)         # GET p50 minus TTFB p50
STALL_TTFB_SHARE = 0.25             # TTFB p50 at most this share of the GET p50
SMALL_OBJECT_BYTES = 1 << 20
# Generator limit: a worker's CPU busy (running + waiting for it) over the measured seconds.
BUSY_SHARE = 0.9
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
    found = [_get_stall(by_op), _generator_limit(out, load), _dominant_error(out, name_of), _iops_collapse(out)]
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
    """A worker whose CPU was busy with it (running or waiting to run) nearly all the measured time."""
    averages = load.averages() if load else None
    if averages is None:
        return None
    running, waiting = averages
    busy = running + waiting
    worker = int(np.argmax(busy))
    if busy[worker] < BUSY_SHARE:
        return None
    n = int(np.count_nonzero(busy >= BUSY_SHARE))
    who = f"worker {worker}" if n == 1 else f"{n} of {len(busy)} workers (worker {worker}"
    return (f"{who}{'' if n == 1 else ')'} kept its CPU busy {busy[worker]:.0%} of the run "
            f"(running {running[worker]:.0%}, waiting for the CPU {waiting[worker]:.0%}): the load generator, "
            f"not Ceph, set the pace. Add --procs (now {out.plan.procs}), or hosts"
            + ("; other processes share these CPUs" if waiting[worker] >= 0.2 else ""))


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
    return (f"{n / total:.0%} of the errors are {kind} ({n:,}, mostly {name} on {op}"
            + (f"; worker: {message}" if message else "") + ")" + (f": {advice}" if advice else ""))


def _iops_collapse(out: RunOutcome) -> str | None:
    """IOPS under half of the first seconds' level from some second on."""
    own = [o for o, name in enumerate(out.op_names) if name not in out.plan.target.derived_ops]
    whole = int(out.measured_s) + out.plan.ramp_s      # the last, partial second left out
    iops = out.ts[:, out.plan.ramp_s:whole][:, :, own, TsField.OPS].sum(axis=(0, 2)).astype(float)
    if len(iops) < MIN_SECONDS:
        return None
    level = float(np.median(iops[:FIRST_SECONDS]))
    if level <= 0:
        return None
    for s in range(FIRST_SECONDS, len(iops)):
        rest = float(np.median(iops[s:]))
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

