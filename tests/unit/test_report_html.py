"""The HTML report (report/html.py): self-contained, every chart drawn, partial runs flagged, and
light enough to mail for an hour-long run. Result files of the wrong shape are one-line errors."""
import re

import numpy as np
import pytest

from chopsticks.errors import ChopsticksError
from chopsticks._fast.histogram import record_values
from chopsticks.metrics.histogram import NBUCKETS, to_sparse
from chopsticks.report.html import run_page
from chopsticks.report.result import check_document, load_result


def hour_long(seconds=3600, ops=("read", "write"), partial=False):
    """A result document shaped as result_document() writes it, with noisy per-second values."""
    rng = np.random.default_rng(7)
    series, rows, hist = [], [], {}
    for op in ops:
        iops = rng.normal(6000, 400, seconds).round()
        p50 = rng.lognormal(np.log(900), 0.1, seconds)
        for s in range(seconds):
            series.append({"second": s, "phase": "ramp" if s < 5 else "measured", "op": op, "iops": int(iops[s]),
                           "bytes": int(iops[s]) * 4096, "errors": int(s % 97 == 0), "stalled": 0, "inflight": 16,
                           "mib_s": iops[s] * 4096 / 2**20, "lat_mean_us": p50[s] * 1.1, "lat_max_us": p50[s] * 20,
                           "lat_p50_us": p50[s], "lat_p99_us": p50[s] * 4, "lat_p99_9_us": p50[s] * 9})
        counts = np.zeros(NBUCKETS, dtype=np.uint64)
        record_values(counts, rng.lognormal(np.log(900e3), 0.5, 200_000).astype(np.uint64))
        hist[op] = to_sparse(counts)
        rows.append({"op": op, "ops": int(iops.sum()), "errors": 37, "stalled": 0, "iops": 6000.0, "bytes": 1,
                     "mib_s": 23.4, "lat_mean_us": 990.0, "lat_p50_us": 900.0, "lat_p90_us": 1700.0,
                     "lat_p99_us": 2900.0, "lat_p99_9_us": 4100.0, "lat_p99_99_us": 5500.0, "lat_max_us": 9000.0})
    rows.append({**rows[0], "op": "all"})
    return {"chopsticks_version": "0.1.0", "command": ["chopsticks", "bench", "rbd", "--duration", "1h"],
            "started_at": "2026-11-26T10:00:00+00:00", "partial": partial,
            "notes": ["interrupted by SIGINT: results cover the time until the stop"] if partial else [],
            "settings": {"procs": 2, "iodepth": 16, "target": {"backend": "rbd", "pool": "rbd"}},
            "cluster": {"fsid": "abc"}, "measured_s": float(seconds - 5), "drain_ops": 12, "summary": rows,
            "errors_by_kind": {op: {"EIO": 37} for op in ops}, "hints": [],
            "workers": [{"index": i, "cpu": i, "pid": 100 + i, "state": "done", "cpu_user_s": 1800.0,
                         "cpu_sys_s": 900.0, "completed": 10} for i in range(2)],
            "timeseries": series, "histogram": {"ops": hist}}


def svgs(page: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", page, flags=re.S)


def test_an_hour_long_run_makes_a_light_self_contained_page():
    page = run_page(check_document(hour_long(), "result.json"))
    assert len(page.encode()) <= 2 * 2**20
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#)""", page)          # nothing fetched at view time
    charts = svgs(page)
    assert len(charts) == 7                      # throughput, latency/s, spectrum, histogram, errors, kinds, CPU
    assert all(chart.count("<path") > 5 for chart in charts)
    assert "chopsticks bench rbd" in page and "2,900.0" in page and "PARTIAL" not in page


def test_a_partial_run_says_so_at_the_top():
    page = run_page(check_document(hour_long(seconds=20, partial=True), "result.json"))
    body = page.split("<body>", 1)[1]
    assert body.index("PARTIAL RESULT: interrupted by SIGINT") < body.index("<h2>")


@pytest.mark.parametrize("text, why", [
    ('{"summary": []}', "no 'summary' rows"),
    ('{"summary": [{"op": "all"}]}', "a summary row without 'op' and 'ops'"),
    ('[1, 2]', "a JSON list, not an object"),
    ('{"summary": [{"op": "all", "ops": 1}], "timeseries": {}}', "'timeseries' is not a list"),
    ("{not json", "invalid JSON"),
])
def test_wrong_shapes_are_not_a_chopsticks_result(tmp_path, text, why):
    path = tmp_path / "x.json"
    path.write_text(text)
    with pytest.raises(ChopsticksError, match=re.escape(f"x.json: not a chopsticks result file ({why}")):
        load_result(path)


def test_report_show_names_a_wrong_shape_in_one_line(tmp_path, cli):
    path = tmp_path / "x.json"
    path.write_text('{"summary": []}')
    r = cli("report", "show", path)
    assert r.exit_code == 1 and r.stderr == "chopsticks: error: x.json: not a chopsticks result file (no 'summary' rows)\n"


def test_a_cluster_run_has_a_row_and_a_bar_per_host():
    doc = hour_long(seconds=20)
    doc["hosts"] = [{"host": f"client-{i}", "address": f"tcp://127.0.0.{i + 1}:40000", "clock_offset_ms": 0.4,
                     "rtt_ms": 0.2, "first_op_ms": 2.0 * i, "lost_at_s": None,
                     "summary": [{**doc["summary"][-1], "iops": 1000.0 * (i + 1)}], "workers": []} for i in range(3)]
    page = run_page(check_document(doc, "result.json"))
    hosts = page.split("<h2>Hosts</h2>", 1)[1]
    assert all(f"client-{i}" in hosts for i in range(3)) and "3,000" in hosts
    assert len(svgs(page)) == 8 and "IOPS per host" in page


def test_report_html_writes_next_to_the_result_and_a_comparison_apart(tmp_path, cli):
    import orjson
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_bytes(orjson.dumps(hour_long(seconds=12), option=orjson.OPT_SERIALIZE_NUMPY))
    assert cli("report", "html", tmp_path / "a.json").exit_code == 0
    assert cli("report", "html", tmp_path / "a.json", tmp_path / "b.json").exit_code == 0
    assert "<h1>chopsticks bench rbd</h1>" in (tmp_path / "report.html").read_text()
    assert "(baseline) vs b.json" in (tmp_path / "compare.html").read_text()


def test_cluster_events_are_listed_and_marked_on_the_timelines():
    doc = hour_long(seconds=30)
    doc["cluster_events"] = [{"second": 11, "event": "HEALTH_OK → HEALTH_WARN"},
                             {"second": 11, "event": "osd.0 down (osdmap epoch 41)"},
                             {"second": 20, "event": "osd.0 up (osdmap epoch 43)"}]
    page = run_page(check_document(doc, "result.json"))
    events = page.split("<h2>Cluster events</h2>", 1)[1].split("</table>", 1)[0]
    assert "<td>12</td><td>osd.0 down (osdmap epoch 41)</td>" in events and "HEALTH_OK → HEALTH_WARN" in events
    assert page.count("cluster event") >= 3          # in the legends of the throughput and latency timelines
