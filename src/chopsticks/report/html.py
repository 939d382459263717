"""The HTML report: one self-contained, offline file (inline CSS and SVG charts, no script, no
link to anything), for one run or for a comparison of several."""
from __future__ import annotations

import html
import math
from pathlib import Path

from chopsticks import __version__
from chopsticks.metrics.export import TABLE_COLUMNS
from chopsticks.report import charts
from chopsticks.report import compare as cmp
from chopsticks.report.result import Result

HOST_COLUMNS = (("ops", "{:,}"), ("iops", "{:,.0f}"), ("mib_s", "{:,.1f}"), ("lat_p50_us", "{:,.1f}"),
                ("lat_p99_us", "{:,.1f}"), ("lat_p99_9_us", "{:,.1f}"), ("errors", "{:,}"))
CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em auto;max-width:70em;padding:0 1em;color:#222}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0;font-variant-numeric:tabular-nums}
td,th{padding:.2em .6em;border-bottom:1px solid #eee;text-align:right}td:first-child,th:first-child{text-align:left}
th{background:#f6f6f6}pre{background:#f6f6f6;padding:.6em;white-space:pre-wrap;word-break:break-all}
.partial{background:#fde2e1;border:1px solid #e08080;padding:.6em 1em;font-weight:600}
.chart svg{max-width:100%;height:auto}.muted{color:#777}
.better{color:#1a7f37;font-weight:600}.worse{color:#c62828;font-weight:600}
"""


def _esc(value) -> str:
    return html.escape(str(value))


def _cell(fmt: str, value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return fmt.format(value)


def _table(head: list[str], rows: list[list[str]], cls: list[str] | None = None) -> str:
    out = ["<table><tr>" + "".join(f"<th>{_esc(h)}</th>" for h in head) + "</tr>"]
    for i, row in enumerate(rows):
        attr = f' class="{cls[i]}"' if cls and cls[i] else ""
        out.append(f"<tr{attr}>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>")
    return "".join(out) + "</table>"


def _flatten(prefix: str, value) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [kv for k, v in value.items() for kv in _flatten(f"{prefix}.{k}" if prefix else str(k), v)]
    return [(prefix, "-" if value is None else str(value))]


def _summary(result: Result) -> str:
    return _table([title for _, title, _ in TABLE_COLUMNS],
                  [[_cell(fmt, row.get(key)) for key, _, fmt in TABLE_COLUMNS] for row in result.rows])


def _charts(chart_list: list[charts.Chart]) -> str:
    return "".join(f'<h2>{_esc(c.title)}</h2><div class="chart">{charts.inline_svg(c)}</div>' for c in chart_list)


def _page(title: str, body: list[str]) -> str:
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_esc(title)}</title><style>{CSS}</style></head><body>"
            + "".join(body)
            + f'<p class="muted">chopsticks {_esc(__version__)}</p></body></html>\n')


def run_page(result: Result) -> str:
    """The report of one run: command and settings, summary, charts, errors, workers, notes."""
    doc = result.doc
    body = [f"<h1>chopsticks {_esc(result.title)}</h1>",
            f'<p class="muted">started {_esc(doc.get("started_at", "?"))}, measured '
            f'{float(doc.get("measured_s") or 0):.2f}s, {_esc(result.name)}</p>']
    if doc.get("partial"):
        body.append('<p class="partial">PARTIAL RESULT: ' + _esc("; ".join(doc.get("notes", [])) or "the run did not complete")
                    + "</p>")
    body.append(f"<pre>{_esc(result.command)}</pre>")
    body.append("<h2>Summary</h2>" + _summary(result))
    if doc.get("drain_ops"):
        body.append(f'<p class="muted">{doc["drain_ops"]:,} ops completed after the end of the measured time '
                    "(drain, shaded in the charts) are left out of the figures.</p>")
    if result.cluster_events:
        body.append("<h2>Cluster events</h2>" + _table(
            ["second", "what the cluster watch saw"], [[second + 1, text] for second, text in result.cluster_events]))
    body.append(_charts(charts.run_charts(result)))
    hosts = doc.get("hosts") or []
    if hosts:
        body.append("<h2>Hosts</h2>" + _table(
            ["host", "address", "clock offset ms", "first op ms", "lost at s", "ops", "IOPS", "MiB/s", "p50 µs",
             "p99 µs", "p99.9 µs", "errors"],
            [[h.get("host"), h.get("address"), _cell("{:+.1f}", h.get("clock_offset_ms")), _cell("{:.1f}", h.get("first_op_ms")),
              _cell("{:.0f}", h.get("lost_at_s"))] + [_cell(fmt, total.get(key)) for key, fmt in HOST_COLUMNS]
             for h in hosts for total in [(h.get("summary") or [{}])[-1]]]))
        body.append(_charts([charts.Chart("IOPS per host", 0.9 + 0.35 * len(hosts), lambda f: charts.host_iops(f, hosts), left_in=1.6)]))
    kinds = [[op, kind, f"{n:,}"] for op, by in sorted(doc.get("errors_by_kind", {}).items()) for kind, n in sorted(by.items())]
    if kinds:
        body.append("<h2>Errors by kind</h2>" + _table(["op", "kind", "count"], kinds))
    notes = [*doc.get("notes", []), *doc.get("hints", [])]
    if notes:
        body.append("<h2>Notes</h2><ul>" + "".join(f"<li>{_esc(n)}</li>" for n in notes) + "</ul>")
    body.append("<h2>Settings</h2>" + _table(["setting", "value"], [list(kv) for kv in _flatten("", doc.get("settings", {}))]))
    if doc.get("cluster"):
        body.append("<h2>Target</h2>" + _table(["fact", "value"], [list(kv) for kv in _flatten("", doc["cluster"])]))
    workers = doc.get("workers", [])
    if workers:
        body.append("<h2>Workers</h2>" + _table(
            ["worker", "cpu", "pid", "state", "user CPU s", "system CPU s", "completed"],
            [[w.get("index"), w.get("cpu"), w.get("pid"), w.get("state"), _cell("{:.2f}", w.get("cpu_user_s")),
              _cell("{:.2f}", w.get("cpu_sys_s")), _cell("{:,}", w.get("completed"))] for w in workers]))
    return _page(f"chopsticks {result.title} {doc.get('started_at', '')}", body)


def compare_page(results: list[Result], changes: list[cmp.Change], threshold_pct: float) -> str:
    """The report of a comparison: the changes with their intervals, then each run's summary."""
    body = [f"<h1>chopsticks comparison: {_esc(results[0].name)} (baseline) vs "
            + _esc(", ".join(r.name for r in results[1:])) + "</h1>",
            f'<p class="muted">95 % bootstrap confidence intervals; changes under {threshold_pct:g} % are never '
            "called better or worse.</p>"]
    partial = [r.name for r in results if r.doc.get("partial")]
    if partial:
        body.append(f'<p class="partial">PARTIAL RESULT in {_esc(", ".join(partial))}</p>')
    body.append("<h2>Changes</h2>" + _table(
        ["candidate", "op", "figure", "baseline", "candidate", "change %", "95% CI %", "verdict", "over"],
        [[c.candidate_name, c.op, c.figure, cmp.format_value(c.baseline), cmp.format_value(c.candidate),
          _cell("{:+.1f}", c.change_pct), f"[{c.ci_low_pct:+.1f}, {c.ci_high_pct:+.1f}]", c.verdict, c.samples]
         for c in changes], cls=[c.verdict if c.verdict in ("better", "worse") else "" for c in changes]))
    body.append(_charts(charts.compare_charts(results, changes)))
    for r in results:
        body.append(f"<h2>{_esc(r.name)}: summary</h2><pre>{_esc(r.command)}</pre>" + _summary(r))
    return _page("chopsticks comparison", body)


def write_run_report(path: Path, result: Result) -> None:
    Path(path).write_text(run_page(result), encoding="utf-8")
