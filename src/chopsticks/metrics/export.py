"""Result outputs: the terminal table, the summary CSV, the time-series CSV and the JSON file."""
from __future__ import annotations

import csv
import datetime
import math
import signal
import textwrap
from pathlib import Path

import orjson

from chopsticks import __version__
from chopsticks.engine.contract import ERR_STALLED, RunOutcome
from chopsticks.engine.shm import Phase
from chopsticks.metrics import histogram
from chopsticks.metrics.summary import (CLUSTER_COLUMNS, MEASURED, SUMMARY_COLUMNS, TIMESERIES_COLUMNS, errors_by_kind,
                                        rate_summary, rate_text, timeseries)

TABLE_COLUMNS = (("op", "op", "{}"), ("ops", "ops", "{:,}"), ("iops", "IOPS", "{:,.0f}"),
                 ("mib_s", "MiB/s", "{:,.1f}"), ("lat_mean_us", "mean µs", "{:,.1f}"),
                 ("lat_p50_us", "p50 µs", "{:,.1f}"), ("lat_p90_us", "p90 µs", "{:,.1f}"),
                 ("lat_p99_us", "p99 µs", "{:,.1f}"), ("lat_p99_9_us", "p99.9 µs", "{:,.1f}"),
                 ("lat_p99_99_us", "p99.99 µs", "{:,.1f}"), ("lat_max_us", "max µs", "{:,.1f}"),
                 ("errors", "errors", "{:,}"), ("stalled", "stalled", "{:,}"))


def _cell(fmt: str, value) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "-"
    return fmt.format(value)


def table(rows: list[dict], width: int | None = None) -> str:
    """Fixed-width table of summary rows; wider than `width`, it is printed in blocks of columns,
    each led by the op, one under the other (never wrapped)."""
    cells = [[title for _, title, _ in TABLE_COLUMNS]]
    cells += [[_cell(fmt, row[key]) for key, _, fmt in TABLE_COLUMNS] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(TABLE_COLUMNS))]
    blocks = [[0]]
    for i in range(1, len(TABLE_COLUMNS)):
        if width and len(blocks[-1]) > 1 and sum(widths[j] + 2 for j in blocks[-1]) + widths[i] > width:
            blocks.append([0])
        blocks[-1].append(i)
    return "\n\n".join("\n".join("  ".join(r[i].ljust(widths[i]) if i == 0 else r[i].rjust(widths[i]) for i in block)
                                  for r in cells) for block in blocks)


def drain_ops(out: RunOutcome) -> int:
    """The target's own ops that completed in the drain (derived timings such as TTFB left out)."""
    own = [o for o, name in enumerate(out.op_names) if name not in out.plan.derived_ops]
    return int(out.hist[:, Phase.DRAIN][:, own].sum() + out.errors[:, Phase.DRAIN][:, own].sum()
               - out.errors[:, Phase.DRAIN][:, own, ERR_STALLED].sum())


def report_text(out: RunOutcome, rows: list[dict], name_of, width: int | None = None) -> str:
    """The table plus the lines a user needs to trust it: measured time, errors, notes; all
    folded to `width` if given."""
    cpus = ",".join(str(w["cpu"]) for w in out.workers)
    lines = [table(rows, width), f"measured {out.measured_s:.2f}s over {len(out.workers)} worker(s) on CPUs {cpus}"
             + (f" after a {out.plan.ramp_s}s ramp" if out.plan.ramp_s else "")]
    for op, kinds in errors_by_kind(out, name_of).items():
        kinds = {k: n for k, n in kinds.items() if k != "stalled"}
        if kinds:
            lines.append(f"errors {op}: " + ", ".join(f"{k} {n:,}" for k, n in sorted(kinds.items())))
    stalled = [f"{row['op']} {row['stalled']:,}" for row in rows[:-1] if row["stalled"]]
    if stalled:
        lines.append(f"stalled (in flight longer than --op-timeout {out.plan.op_timeout_s:g}s): " + ", ".join(stalled))
    rate = rate_summary(out, rows)
    if rate:
        lines.extend(rate_text(rate))
    drained = drain_ops(out)
    if drained:
        lines.append(f"drain: {drained:,} ops completed after the end of the measured time (left out of the figures)")
    for w in out.workers:
        if w["state"] == "done" and w["message"]:            # what a worker had to say of its run
            lines.append(f"worker {w['index']}: {w['message']}")
    if out.partial:
        lines.append("PARTIAL RESULT: " + "; ".join(out.notes))
    if width:
        lines[1:] = [textwrap.fill(line, width, subsequent_indent="  ") for line in lines[1:]]
    return "\n".join(lines)


def write_rows_csv(path: Path, columns, rows) -> None:
    """Rows (dicts) as CSV under `columns`; floats with 3 decimals."""
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        for row in rows:
            w.writerow({k: (f"{v:.3f}" if isinstance(v, float) else v) for k, v in row.items()})


def write_summary_csv(path: Path, rows: list[dict]) -> None:
    write_rows_csv(path, SUMMARY_COLUMNS, rows)


def write_timeseries_csv(path: Path, out: RunOutcome, hosts: list[tuple[str, RunOutcome]] = (),
                         cluster: dict[int, dict] | None = None) -> None:
    """The per-second series. A cluster run passes its `hosts` (name, outcome): a `host` column
    then leads, the cluster's rows (host "all") first, then each host's own. A run that watched
    its Ceph cluster passes the watch's figures by second: CLUSTER_COLUMNS follow."""
    columns = TIMESERIES_COLUMNS + (CLUSTER_COLUMNS if cluster is not None else ())
    if not hosts:
        write_rows_csv(path, columns, timeseries(out, cluster))
        return
    rows = [{"host": "all", **row} for row in timeseries(out, cluster)]
    for name, host_out in hosts:
        rows += [{"host": name, **row} for row in timeseries(host_out, cluster)]
    write_rows_csv(path, ("host", *columns), rows)


def hosts_text(hosts: list[dict], first_op_spread_ms: float | None) -> str:
    """A line per host of a cluster run (from the JSON's `hosts` entries) and how far apart the
    hosts' first operations began."""
    lines = []
    for h in hosts:
        row = h["summary"][-1]
        p99 = row["lat_p99_us"]
        lines.append(f"host {h['host']}: {row['ops']:,} ops, {row['iops']:,.0f} IOPS, p99 "
                     + ("-" if p99 is None or math.isnan(p99) else f"{p99:,.1f} µs")
                     + f", errors {row['errors']:,}, clock {h['clock_offset_ms']:+.1f} ms"
                     + (f", LOST after second {h['lost_at_s']}" if h.get("lost_at_s") is not None else ""))
    if first_op_spread_ms is not None:
        lines.append(f"first ops of the {len(hosts)} hosts within {first_op_spread_ms:.1f} ms")
    return "\n".join(lines)


def result_document(out: RunOutcome, rows: list[dict], name_of, hints: list[str] = ()) -> dict:
    """Everything about a run, for --json: settings, cluster, summary, per-worker CPU, errors by
    kind, hints (metrics/hints.py), the time series and the raw merged histograms (re-mergeable
    with others)."""
    plan = out.plan
    merged = out.hist[:, MEASURED].sum(axis=0)
    return {
        "chopsticks_version": __version__,
        "command": list(plan.command),
        "started_at": datetime.datetime.fromtimestamp(out.started_at, datetime.timezone.utc).isoformat(),
        "partial": out.partial,
        "stop_signal": signal.Signals(out.stop_signal).name if out.stop_signal else None,
        "notes": out.notes,
        "hints": list(hints),
        "settings": {"procs": plan.procs, "cpus": list(plan.cpus), "iodepth": plan.max_inflight,
                     "duration_s": plan.duration_s, "ramp_s": plan.ramp_s, "io_total": plan.io_total,
                     "seed": plan.seed, "op_timeout_s": plan.op_timeout_s, "pin": plan.pin, "rate_ops_s": plan.rate,
                     "arrivals": plan.arrivals, "target": plan.target.settings()},
        "rate": rate_summary(out, rows),
        "cluster": out.info,
        "measured_s": out.measured_s,
        "drain_ops": drain_ops(out),
        "summary": rows,
        "errors_by_kind": errors_by_kind(out, name_of),
        "workers": out.workers,
        "timeseries": timeseries(out),
        "histogram": {"scheme": histogram.scheme(), "phase": "measured",
                      "ops": {op: histogram.to_sparse(merged[o]) for o, op in enumerate(out.op_names)}},
    }


def write_json(path: Path, document: dict) -> None:
    Path(path).write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
