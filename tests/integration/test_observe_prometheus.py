"""The live Prometheus endpoint (metrics/prometheus.py): scraped during real runs with
prometheus_client's own parser, compared with the workers' merged shared memory, and gone after."""
import json
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from chopsticks.backends.block import BlockIo
from chopsticks.backends.null import NullTarget
from chopsticks.engine import pool
from chopsticks.metrics.histogram import LOWER_NS
from chopsticks.metrics.prometheus import DURATION_EDGE_INDEX, DURATION_EDGES_NS, PrometheusExporter
from chopsticks.plan import Plan
from helpers.engine_cli import CHOPSTICKS

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port: int) -> dict[str, list]:
    """{sample name: [(labels, value), ...]} as prometheus_client's parser reads /metrics (a
    family without samples yet is listed under its name with no sample)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        samples.setdefault(family.name, [])
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return samples


def value(samples, name, **labels) -> float:
    return sum(v for l, v in samples.get(name, []) if all(l.get(k) == x for k, x in labels.items()))


def buckets(samples, op) -> list[tuple[float, float]]:
    return sorted((float(l["le"]), v) for l, v in samples["chopsticks_operation_duration_seconds_bucket"]
                  if l["operation"] == op)


def refused(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
    except OSError:
        return True
    return False


def test_the_grafana_dashboard_is_valid_json_with_a_datasource_input():
    dashboard = json.loads((REPO / "contrib" / "grafana" / "chopsticks.json").read_text())
    assert dashboard["__inputs"][0]["pluginId"] == "prometheus" and dashboard["uid"] == "chopsticks"
    assert all(t["expr"] for panel in dashboard["panels"] for t in panel["targets"])


def test_le_edges_are_quarter_octave_bucket_bounds_of_the_recorder():
    assert np.array_equal(LOWER_NS[DURATION_EDGE_INDEX], DURATION_EDGES_NS)
    assert DURATION_EDGES_NS[0] == 1024 and DURATION_EDGES_NS[-1] == 2**36
    ratios = DURATION_EDGES_NS[1:] / DURATION_EDGES_NS[:-1]
    assert ratios.min() >= 1.14 and ratios.max() <= 1.25


class ScrapeProbe:
    """Observer placed before the exporter: scrapes at two ticks, and once more when the workers
    have stopped (finish runs before the exporter's), against the run's shared memory."""

    def __init__(self, port):
        self.port, self.during, self.at_end = port, [], None

    def started(self, run):
        self.run = run

    def tick(self, tick):
        if tick.second in (0, 1):
            self.during.append(scrape(self.port))

    def finish(self):
        self.at_end = scrape(self.port)
        mem = self.run.mem
        self.merged = mem.hist.sum(axis=(0, 1)).copy()
        self.bytes = mem.ts[..., 1].sum(axis=(0, 1)).copy()


def test_scrapes_match_the_merged_histogram_and_the_endpoint_ends_with_the_run():
    port = free_port()
    target = NullTarget(io=BlockIo(bs=4096, rw="randrw", rwmixread=30))
    plan = Plan(target=target, procs=2, cpus=pool.assign_cpus(2)[0], max_inflight=1, duration_s=2.5,
                command=("chopsticks", "bench", "null"))
    probe = ScrapeProbe(port)
    out = pool.run(plan, [probe, PrometheusExporter("127.0.0.1", port, target.name)])
    assert refused(port)                     # gone with the run
    first, second = probe.during
    for op in ("read", "write"):
        before = value(first, "chopsticks_operations_total", operation=op, status="success")
        after = value(second, "chopsticks_operations_total", operation=op, status="success")
        assert 0 < before < after
        assert 0 < value(first, "chopsticks_bytes_transferred_total", operation=op) \
            < value(second, "chopsticks_bytes_transferred_total", operation=op)
    end = probe.at_end
    for o, op in enumerate(out.op_names):
        counts = [c for _, c in buckets(end, op)]
        assert counts == sorted(counts)                                  # cumulative
        cumulative = np.cumsum(probe.merged[o])
        expected = [int(cumulative[i - 1]) for i in DURATION_EDGE_INDEX] + [int(cumulative[-1])]
        assert counts == expected                                        # exact at each edge
        assert [le for le, _ in buckets(end, op)][:-1] == [int(e) / 1e9 for e in DURATION_EDGES_NS]
        total = value(end, "chopsticks_operation_duration_seconds_count", operation=op)
        assert total == value(end, "chopsticks_operations_total", operation=op, status="success") == cumulative[-1] > 0
        assert value(end, "chopsticks_bytes_transferred_total", operation=op) == probe.bytes[o]
        assert value(end, "chopsticks_operations_total", operation=op, status="failure") == 0
    # the ticks' CPU, summed: more than nothing, never more than what the workers report for the
    # whole run (the ticks leave out the last part second; a busy machine gives a worker little CPU)
    worker_cpu_s = sum(w["cpu_user_s"] + w["cpu_sys_s"] for w in out.workers)
    assert 0 < value(end, "chopsticks_worker_cpu_seconds_total") <= worker_cpu_s + 0.05
    assert {l["worker"] for l, _ in end["chopsticks_worker_cpu_seconds_total"]} == {"0", "1"}
    assert "chopsticks_operations_in_flight" in end and "chopsticks_active_users" not in end
    assert "chopsticks_errors" in end and "chopsticks_stalled_operations" in end    # families, no error yet
    dashboard = (REPO / "contrib" / "grafana" / "chopsticks.json").read_text()
    used = set(re.findall(r"chopsticks_[a-z_]+", dashboard)) - {"chopsticks_active_users"}   # scenarios only
    assert len(used) >= 8 and all(name in end or name.removesuffix("_total") in end for name in used), used - set(end)


def wait_for_scrape(port: int, proc: subprocess.Popen, timeout=30.0) -> dict:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout and proc.poll() is None:
        try:
            samples = scrape(port)
            if value(samples, "chopsticks_operations_total") > 0:
                return samples
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"no metrics on port {port}: {proc.communicate()[1]}")


def test_bench_null_serves_metrics_while_it_runs(tmp_path):
    port = free_port()
    proc = subprocess.Popen([*CHOPSTICKS, "bench", "null", "--procs", "1", "--duration", "3s", "--quiet", "--no-save",
                             "--prometheus", f"127.0.0.1:{port}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = wait_for_scrape(port, proc)
    time.sleep(1.0)
    second = scrape(port)
    assert value(second, "chopsticks_operations_total", operation="write", status="success") \
        > value(first, "chopsticks_operations_total", operation="write", status="success") > 0
    counts = [c for _, c in buckets(second, "write")]
    assert counts == sorted(counts) and counts[-1] > 0
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    assert refused(port)


def test_port_in_use_is_a_one_line_error_before_the_run(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = subprocess.run([*CHOPSTICKS, "bench", "null", "--duration", "1s", "--quiet", "--no-save",
                            "--prometheus", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.strip() == f"chopsticks: error: cannot serve Prometheus metrics on 127.0.0.1:{port}: Address already in use"


@pytest.mark.parametrize("bad", ["abc", "127.0.0.1:", "host:70000"])
def test_bad_address_is_a_usage_error(bad):
    r = subprocess.run([*CHOPSTICKS, "bench", "null", "--duration", "1s", "--quiet", "--no-save", "--prometheus", bad],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--prometheus" in r.stderr


def test_metrics_section_of_the_0x_config_enables_it(tmp_path):
    port = free_port()
    config = tmp_path / "s3.yaml"
    config.write_text(yaml.safe_dump({"endpoint": "http://127.0.0.1:1", "access_key": "a", "secret_key": "s",
                                      "bucket": "b", "driver": "mock",
                                      "metrics": {"enabled": True, "http_host": "127.0.0.1", "http_port": port}}))
    proc = subprocess.Popen([*CHOPSTICKS, "bench", "s3", "--workload-config", config, "--op", "put", "--procs", "1",
                             "--concurrency", "2", "--duration", "3s", "--quiet", "--no-save"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples = wait_for_scrape(port, proc)
    assert value(samples, "chopsticks_operations_total", operation="put", status="success", workload="s3") > 0
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    assert refused(port)


def test_a_scenario_run_serves_its_active_users(tmp_path):
    port = free_port()
    config = tmp_path / "mock.yaml"
    config.write_text(yaml.safe_dump({"endpoint": "http://127.0.0.1:1", "access_key": "a", "secret_key": "s",
                                      "bucket": "b", "driver": "mock"}))
    proc = subprocess.Popen([*CHOPSTICKS, "run", "-f", REPO / "scenarios" / "s3_small_objects.py", "--workload-config",
                             config, "--users", "4", "--spawn-rate", "2", "--duration", "4s", "--procs", "2",
                             "--quiet", "--no-save", "--prometheus", f"127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = set()
    samples = wait_for_scrape(port, proc)
    while proc.poll() is None and samples:
        seen.add(value(samples, "chopsticks_active_users", workload="scenario"))
        time.sleep(0.3)
        try:
            samples = scrape(port)
        except OSError:
            break
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    assert 4 in seen and min(seen) >= 1            # spawned at 2 users a second, up to --users
