"""The live Prometheus endpoint: a run observer serving /metrics with prometheus_client for the
run's whole life. A custom collector merges the workers' shared-memory rows at scrape time, so
recording an op costs nothing more than it did.

Metric names of chopsticks 0.x are kept (its dashboards keep working); every metric has the
labels `operation` (op name) and `workload` (backend: rbd, s3, null, scenario, ...):
  chopsticks_operation_duration_seconds   histogram of successful ops; `le` = DURATION_EDGES_NS
  chopsticks_operations_total             counter, status="success" | "failure"
  chopsticks_bytes_transferred_total      counter, bytes moved by successful ops
  chopsticks_errors_total                 counter by `kind` (EIO, not_found, timeout, ...)
  chopsticks_stalled_operations_total     counter: ops seen in flight longer than --op-timeout
  chopsticks_operations_in_flight         gauge, last full second (largest sample in it)
  chopsticks_operations_stalled           gauge, ops in flight past --op-timeout, last full second
  chopsticks_worker_cpu_seconds_total     counter per `worker`, `cpu` (librados threads included)
  chopsticks_active_users                 gauge, scenarios only: users started and not yet stopped
Ops that time part of another op (get.ttfb, reconnect; in rate mode <op>.service and
schedule.lag, the lag of each submission behind its intended start) have a histogram but are left
out of chopsticks_operations_total and chopsticks_bytes_transferred_total, as from the summary's
`all` row.
"""
from __future__ import annotations

import math
import threading
import time

import numpy as np
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from chopsticks.engine.contract import error_namer
from chopsticks.engine.shm import ERR_STALLED, TsField
from chopsticks.errors import ChopsticksError
from chopsticks.metrics.histogram import LOWER_NS

DEFAULT_ADDRESS = "0.0.0.0"          # as chopsticks 0.x: a scrape target is read from another host
EDGES_PER_OCTAVE = 4
EDGE_RANGE_NS = (2**10, 2**36)       # 1.024 µs .. 68.7 s


def _duration_edges() -> np.ndarray:
    """Indices into LOWER_NS of the histogram's `le` buckets: the quarter-octave edges
    m * 2**k ns (m = 128, 160, 192, 224) from 1.024 µs to 68.7 s. Each is a bucket bound of the
    recorder, so the count below it is exact (an op lasting exactly the edge, to the
    nanosecond, counts in the next bucket)."""
    lo, hi = EDGE_RANGE_NS
    idx = []
    for i, v in enumerate(LOWER_NS.tolist()):
        if lo <= v <= hi:
            octave = 1 << (v.bit_length() - 1)
            if v % (octave // EDGES_PER_OCTAVE) == 0:
                idx.append(i)
    return np.array(idx, dtype=np.intp)


DURATION_EDGE_INDEX = _duration_edges()
DURATION_EDGES_NS = LOWER_NS[DURATION_EDGE_INDEX]
_LE = [floatToGoString(int(v) / 1e9) for v in DURATION_EDGES_NS]


def parse_address(value: str) -> tuple[str, int]:
    """'[ADDR:]PORT' → (address, port); ValueError with a one-line reason."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]") if sep else DEFAULT_ADDRESS
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected [ADDR:]PORT with a port from 1 to 65535, got '{value}'")
    return host or DEFAULT_ADDRESS, int(port)


class RunCollector:
    """prometheus_client collector over a live run's shared memory; empty before the start and
    after finish(). The lock keeps a scrape and the end of the run apart: no view of shared
    memory survives a scrape, so the segment can close."""

    def __init__(self, workload: str):
        self.workload = workload
        self.lock = threading.Lock()
        self.run = None
        self.cpu_s: np.ndarray | None = None
        self.inflight = self.stalled = None
        self.draining = False

    def attach(self, run) -> None:
        with self.lock:
            self.run = run
            self.cpu_s = np.zeros(run.plan.procs)

    def update(self, tick) -> None:
        with self.lock:
            if self.run is not None:
                self.cpu_s = self.cpu_s + tick.cpu_pct / 100.0
                self.inflight, self.stalled, self.draining = tick.inflight.copy(), tick.stalled.copy(), tick.draining

    def detach(self) -> None:
        with self.lock:
            self.run = None

    def _snapshot(self) -> dict | None:
        """Totals over workers and phases, copied out of shared memory."""
        run = self.run
        if run is None:
            return None
        mem = run.mem
        secs = min(mem.layout.max_secs, max(1, (time.monotonic_ns() - run.start_ns) // 1_000_000_000 + 2))
        ts = mem.ts[:, :secs].sum(axis=(0, 1))                 # [n_ops][TS_FIELDS]
        return {"hist": mem.hist.sum(axis=(0, 1)), "errors": mem.errors.sum(axis=(0, 1)),
                "bytes": ts[:, TsField.BYTES].copy(), "lat_sum_ns": ts[:, TsField.LAT_SUM_NS].copy()}

    def collect(self):
        with self.lock:
            snap = self._snapshot()
            if snap is None:
                return
            run, cpu_s, inflight, stalled, draining = self.run, self.cpu_s, self.inflight, self.stalled, self.draining
        target = run.plan.target
        name_of = error_namer(target)
        labels = ["operation", "workload"]
        hist, errors = snap["hist"], snap["errors"]
        ok = hist.sum(axis=1)
        failed = errors.sum(axis=1) - errors[:, ERR_STALLED]
        duration = HistogramMetricFamily("chopsticks_operation_duration_seconds",
                                         "Latency of successful operations (buckets: quarter-octave edges of the "
                                         "recorder's log-linear histogram, counts exact)", labels=labels)
        cum = np.cumsum(hist, axis=1)
        for o, op in enumerate(run.op_names):
            if ok[o]:
                below = cum[o, DURATION_EDGE_INDEX - 1]
                buckets = [(le, int(c)) for le, c in zip(_LE, below)] + [("+Inf", int(ok[o]))]
                duration.add_metric([op, self.workload], buckets, sum_value=float(snap["lat_sum_ns"][o]) / 1e9)
        yield duration
        total = CounterMetricFamily("chopsticks_operations", "Operations completed",
                                    labels=[*labels, "status"])
        moved = CounterMetricFamily("chopsticks_bytes_transferred", "Bytes moved by successful operations",
                                    labels=labels)
        for o, op in enumerate(run.op_names):
            if op not in run.plan.derived_ops:
                total.add_metric([op, self.workload, "success"], int(ok[o]))
                total.add_metric([op, self.workload, "failure"], int(failed[o]))
                moved.add_metric([op, self.workload], int(snap["bytes"][o]))
        yield total
        yield moved
        kinds = CounterMetricFamily("chopsticks_errors", "Failed operations by kind", labels=[*labels, "kind"])
        stalls = CounterMetricFamily("chopsticks_stalled_operations",
                                     "Operations seen in flight longer than --op-timeout", labels=labels)
        for o, op in enumerate(run.op_names):
            for code in np.nonzero(errors[o])[0]:
                if code != ERR_STALLED:
                    kinds.add_metric([op, self.workload, name_of(int(code))], int(errors[o, code]))
            stalls.add_metric([op, self.workload], int(errors[o, ERR_STALLED]))
        yield kinds
        yield stalls
        if inflight is not None:
            in_flight = GaugeMetricFamily("chopsticks_operations_in_flight",
                                          "Operations in flight (largest sample of the last full second)", labels=labels)
            stalled_now = GaugeMetricFamily("chopsticks_operations_stalled",
                                            "Operations in flight longer than --op-timeout (last full second)",
                                            labels=labels)
            for o, op in enumerate(run.op_names):
                in_flight.add_metric([op, self.workload], int(inflight[o]))
                stalled_now.add_metric([op, self.workload], int(stalled[o]))
            yield in_flight
            yield stalled_now
        cpu = CounterMetricFamily("chopsticks_worker_cpu_seconds", "CPU time of each worker process since the start "
                                  "(its librados threads included)", labels=["worker", "cpu", "workload"])
        for i, seconds in enumerate(cpu_s):
            cpu.add_metric([str(i), str(run.plan.cpus[i]), self.workload], float(seconds))
        yield cpu
        users = getattr(target, "users", None)
        if users is not None:
            active = GaugeMetricFamily("chopsticks_active_users", "Simulated users started and not yet stopped",
                                       labels=["workload"])
            active.add_metric([self.workload], 0 if draining else _users_started(run, users, target.spawn_rate))
            yield active


def _users_started(run, users: int, spawn_rate: float) -> int:
    """Users whose spawn time has come: user i starts i / spawn_rate seconds after the start."""
    elapsed = (time.monotonic_ns() - run.start_ns) / 1e9
    return 0 if elapsed < 0 else min(users, math.floor(elapsed * spawn_rate) + 1)


class PrometheusExporter:
    """Run observer: listens from construction (a busy port fails before the run starts),
    serves the run from started() and stops listening in finish(), before shared memory goes."""

    def __init__(self, address: str, port: int, workload: str):
        from prometheus_client import CollectorRegistry, start_http_server

        self.collector = RunCollector(workload)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self.collector)
        try:
            self.server, self.thread = start_http_server(port, address, registry)
        except OSError as e:
            raise ChopsticksError(f"cannot serve Prometheus metrics on {address}:{port}: {e.strerror or e}") from None
        self.address, self.port = address, port

    def started(self, run) -> None:
        self.collector.attach(run)

    def tick(self, tick) -> None:
        self.collector.update(tick)

    def finish(self) -> None:
        self.collector.detach()
        self.close()

    def close(self) -> None:
        """Stop listening (idempotent): the endpoint lives exactly as long as the run."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()
            self.server = None
