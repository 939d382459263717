"""The client side of a cluster run: wait for the hosts, check their versions and clocks, give
each its pinned task, start them at one instant, merge their streams into one progress line,
notice a lost host, pass Ctrl+C on, and merge their results exactly."""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import queue
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass

import numpy as np

from chopsticks import __version__
from chopsticks.cluster import connect, files, stream
from chopsticks.cluster.host import control_name, run_host
from chopsticks.cluster.outcome import (CLOCK_WARN_MS, Host, HostResult, StreamedSecond, first_op_spread_ms,
                                        from_stream, host_entries, merge, tick_percentiles)
from chopsticks.engine.live import LiveRun, Observers, Tick
from chopsticks.engine.pool import RunOutcome
from chopsticks.engine.shm import Header, RunMemory, ShmLayout, TsField, WorkerState
from chopsticks.errors import ChopsticksError, Interrupted
from chopsticks.plan import Plan

LOOP_S = 0.05
BEAT_S = 0.5
LOST_CHECK_S = 1.0
START_LEAD_S = 0.5          # the start instant is this far ahead of the moment every host is ready
TICK_WAIT_S = 2.0           # a second is shown once every running host sent it, or this long after the first did
HOST_SILENT_S = 10.0        # a running host that sent nothing for this long is lost (a cut network:
                            # the scheduler would notice only after its worker-ttl, minutes)
CLOCK_PROBES = 5
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
COMPARED_PACKAGES = ("python", "dask", "distributed", "msgpack", "cloudpickle")


@dataclass(frozen=True)
class ClusterRequest:
    address: str                    # scheduler address or local:N
    hosts: int | None               # hosts to wait for; None = every connected host (at least one)
    wait_hosts_s: float
    procs: int | None               # workers per host; None = the host's usable CPUs
    procs_cap: int | None = None    # at most this many workers over the cluster are useful (run: users)


@dataclass
class ClusterOutcome:
    merged: RunOutcome              # the whole cluster: every host's workers side by side
    hosts: list[HostResult]
    first_op_spread_ms: float | None

    @property
    def host_entries(self) -> list[dict]:
        """The JSON's `hosts` (cluster/outcome.py documents the keys)."""
        return host_entries(self.hosts)

    client_cpu_pct: float = float("nan")  # this client's CPU while the hosts ran (stream merge, progress)

    def document(self) -> dict:
        """What a cluster run adds to the JSON: `hosts`, `first_op_spread_ms` (how far apart the
        hosts' first ops began, client clock) and `client_cpu_pct` (100 = one core)."""
        return {"hosts": self.host_entries, "first_op_spread_ms": self.first_op_spread_ms,
                "client_cpu_pct": self.client_cpu_pct}

    def by_host(self) -> list[tuple[str, RunOutcome]]:
        """(name, outcome) of each host, for the time series' per-host rows."""
        return [(r.host.name, r.outcome) for r in self.hosts]


def _host_facts() -> dict:
    """Run on each host (Client.run, a quick call): what must match the client, and its CPUs."""
    import platform
    import socket

    import dask
    import distributed

    from chopsticks import __version__ as version
    from chopsticks.cluster.host import host_cpus

    return {"chopsticks": version, "dask": dask.__version__, "distributed": distributed.__version__,
            "python": platform.python_version(), "cpus": len(host_cpus()), "hostname": socket.gethostname()}


def _wall_clock() -> float:
    return time.time()


def _wait_for_hosts(client, request: ClusterRequest, address: str) -> list[str]:
    """Addresses of the hosts to use, once enough are connected (one-line error otherwise)."""
    wanted = request.hosts or 1
    deadline = time.monotonic() + request.wait_hosts_s
    while True:
        workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
        if len(workers) >= wanted:
            return workers[:request.hosts] if request.hosts else workers
        if time.monotonic() > deadline:
            raise ChopsticksError(f"only {len(workers)} of {wanted} host(s) connected to {address} within "
                                  f"{request.wait_hosts_s:g}s (start `chopsticks worker {address}` on each host)")
        time.sleep(0.1)


def _check_versions(facts: dict[str, dict], names: dict[str, str]) -> None:
    import platform

    import dask
    import distributed

    mine = {"chopsticks": __version__, "dask": dask.__version__, "distributed": distributed.__version__,
            "python": platform.python_version()}
    for address, theirs in facts.items():
        for package, version in mine.items():
            if theirs.get(package) != version:
                raise ChopsticksError(f"host {names[address]} ({address}) runs {package} {theirs.get(package)}, "
                                      f"this client {version}: install the same versions everywhere")


def _clock_offsets(client, addresses: list[str]) -> dict[str, tuple[float, float]]:
    """{address: (offset s, round trip s)}: each host's wall clock minus the client's, from the
    probe with the shortest round trip."""
    best: dict[str, tuple[float, float]] = {}
    for _ in range(CLOCK_PROBES):
        t0 = time.time()
        theirs = client.run(_wall_clock, workers=addresses)
        t1 = time.time()
        for address, t in theirs.items():
            rtt = t1 - t0
            if address not in best or rtt < best[address][1]:
                best[address] = (t - (t0 + t1) / 2, rtt)
    return best


def _procs_per_host(request: ClusterRequest, cpus: int, n_hosts: int) -> int:
    if request.procs:
        return request.procs
    if request.procs_cap:
        return max(1, min(cpus, math.ceil(request.procs_cap / n_hosts)))
    return cpus


def run_cluster(plan: Plan, request: ClusterRequest, observers=()) -> ClusterOutcome:
    """Run `plan` on every host of the cluster (`plan.procs` is ignored: see request.procs)."""
    if request.hosts is None and connect.local_hosts(request.address):
        request = dataclasses.replace(request, hosts=connect.local_hosts(request.address))
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(connect.cluster_client(request.address))
        address = client.scheduler.address
        addresses = _wait_for_hosts(client, request, address)
        try:
            facts = client.run(_host_facts, workers=addresses)
        except Exception as e:  # noqa: BLE001 - a host without chopsticks, a dead host
            raise ChopsticksError(f"could not query the hosts: {type(e).__name__}: {e}") from None
        info = client.scheduler_info(n_workers=-1)["workers"]
        names = {a: info.get(a, {}).get("name") or facts[a]["hostname"] for a in addresses}
        names = {a: str(n) for a, n in names.items()}
        addresses.sort(key=lambda a: (names[a], a))     # host order (worker indexes) follows the names
        _check_versions(facts, names)
        clocks = _clock_offsets(client, addresses)
        hosts, first = [], 0
        for i, a in enumerate(addresses):
            procs = _procs_per_host(request, facts[a]["cpus"], len(addresses))
            hosts.append(Host(i, names[a], a, procs, first, *clocks[a]))
            first += procs
        for h in hosts:
            if abs(h.clock_offset_s) * 1e3 > CLOCK_WARN_MS:
                print(f"chopsticks: warning: host {h.name}'s clock is {h.clock_offset_s * 1e3:+.1f} ms off this "
                      f"client's (± {h.rtt_s * 5e2:.1f} ms): synchronise the hosts' clocks (NTP)", file=sys.stderr)
        return _ClusterRun(client, plan, hosts, Observers(observers)).run()


class _StopRequest:
    """LiveRun's stopper for the cluster: asks every host to drain."""

    def __init__(self):
        self.requested = False

    def request(self) -> None:
        self.requested = True


class _ClusterRun:
    def __init__(self, client, plan: Plan, hosts: list[Host], obs: Observers):
        self.client, self.plan, self.hosts, self.obs = client, plan, hosts, obs
        self.run_id = uuid.uuid4().hex[:12]
        self.total = sum(h.procs for h in hosts)
        self.op_names = plan.op_names
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.ready: set[int] = set()
        self.first_op_at: dict[int, float] = {}
        self.seconds: list[dict[int, StreamedSecond]] = [{} for _ in hosts]
        self.shown = 0                      # seconds handed to the observers
        self.first_seen: dict[int, float] = {}
        self.heard: dict[int, float] = {}           # host → monotonic time of its last message
        self.streamed_all: set[int] = set()         # hosts whose workers have stopped ("done")
        self.merged_hist: list[np.ndarray | None] = []
        self.lost: dict[int, tuple[int, str]] = {}     # host → (second, why)
        self.results: dict[int, dict] = {}
        self.signum: int | None = None
        self.force = False
        self.stopper = _StopRequest()
        self.control_value = {"start": None, "stop": False, "lost": [], "beat": 0}
        self.mirror: RunMemory | None = None

    # -- control ------------------------------------------------------------------------------
    def _set_control(self, **changes) -> None:
        self.control_value = {**self.control_value, **changes, "beat": self.control_value["beat"] + 1}
        self.variable.set(self.control_value)

    def _on_signal(self, signum, frame) -> None:
        if self.signum is not None:
            self.force = True
        self.signum = self.signum or signum

    def _on_event(self, event) -> None:
        self.events.put(event[1])

    # -- the run ------------------------------------------------------------------------------
    def run(self):
        from distributed import Variable

        self.variable = Variable(control_name(self.run_id), client=self.client)
        self._set_control()
        topic = stream.topic(self.run_id)
        self.client.subscribe_topic(topic, self._on_event)
        shipped = files.collect(self.plan.target)
        on_main = threading.current_thread() is threading.main_thread()
        previous = {s: signal.signal(s, self._on_signal) for s in STOP_SIGNALS} if on_main else {}
        self.futures = {}
        try:
            for h in self.hosts:
                host_plan = dataclasses.replace(self.plan, procs=h.procs, first_worker=h.first_worker,
                                                all_workers=self.total)
                self.futures[h.index] = self.client.submit(
                    run_host, host_plan, shipped, h.index, self.run_id, key=f"chopsticks-{self.run_id}-host-{h.index}",
                    workers=[h.address], allow_other_workers=False, pure=False, retries=0)
            self._prepare()
            self._start()
            cpu0, wall0 = time.process_time(), time.monotonic()
            self._watch()
            outcome = self._outcome()
            outcome.client_cpu_pct = (time.process_time() - cpu0) / max(1e-9, time.monotonic() - wall0) * 100
            return outcome
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            with contextlib.suppress(Exception):
                self.client.unsubscribe_topic(topic)
            with contextlib.suppress(Exception):
                self.client.cancel(list(self.futures.values()), force=True)
            if self.control_value["stop"]:
                time.sleep(BEAT_S)          # let every host read the stop before the Variable goes
            with contextlib.suppress(Exception):
                self.variable.delete()
            self.obs.finish()
            if self.mirror is not None:
                self.mirror.close()

    def _drain_events(self) -> None:
        while True:
            try:
                msg = self.events.get_nowait()
            except queue.Empty:
                return
            host = msg["host"]
            self.heard[host] = time.monotonic()
            if msg["kind"] == "done":
                self.streamed_all.add(host)
            elif msg["kind"] == "ready":
                self.ready.add(host)
            elif msg["kind"] == "first_op":
                self.first_op_at[host] = msg["at"] - self.hosts[host].clock_offset_s
            elif msg["kind"] == "second" and host not in self.lost:
                sec = StreamedSecond.decode(msg)
                self.seconds[host][msg["second"]] = sec
                self.first_seen.setdefault(msg["second"], time.monotonic())
                if self.mirror is not None:
                    h = self.hosts[host]
                    self.mirror.errors[h.first_worker] += sec.errors

    def _host_error(self, index: int) -> str | None:
        """Why host `index`'s task failed, or None if it has not."""
        f = self.futures[index]
        if f.status == "error":
            e = f.exception()
            return str(e) if isinstance(e, ChopsticksError) else f"{type(e).__name__}: {e}"
        return None

    def _prepare(self) -> None:
        """Until every host's workers are ready; the first host that cannot start stops them all."""
        t0, beat = time.monotonic(), 0.0
        while len(self.ready) < len(self.hosts):
            self._drain_events()
            if self.signum is not None:
                self._set_control(stop=True)
                raise Interrupted(self.signum)
            gone = self._gone_hosts()
            for h in self.hosts:
                why = self._host_error(h.index) or (f"left the cluster ({gone[h.index]})" if h.index in gone else None)
                if why:
                    self._set_control(stop=True)
                    raise ChopsticksError(f"host {h.name} ({h.address}) could not start: {why}")
            ready_workers = sum(h.procs for h in self.hosts if h.index in self.ready)
            self.obs.waiting(ready_workers, self.total, time.monotonic() - t0)
            if time.monotonic() - beat > BEAT_S:
                beat = time.monotonic()
                self._set_control()
            time.sleep(LOOP_S)

    def _start(self) -> None:
        lead = START_LEAD_S + 2 * max(h.rtt_s for h in self.hosts)
        self.started_at = time.time() + lead
        self.start_ns = time.monotonic_ns() + int(lead * 1e9)
        self._set_control(start=self.started_at)
        self.mirror = RunMemory.create(ShmLayout(self.total, len(self.op_names), 1))
        self.mirror.unlink()
        self.mirror.header[:, Header.STATE] = WorkerState.RUNNING
        self.mirror.header[:, Header.PID] = os.getpid()
        cluster_plan = dataclasses.replace(self.plan, procs=self.total, cpus=(-1,) * self.total, first_worker=0,
                                           all_workers=self.total)
        self.obs.started(LiveRun(cluster_plan, self.op_names, self.mirror, self.start_ns, self.started_at,
                                 self.stopper))

    def _gone_hosts(self) -> dict[int, str]:
        """Hosts whose Dask worker left the scheduler (or every host, if the scheduler is gone)."""
        if self.client.status != "running":
            return {h.index: "lost the scheduler" for h in self.hosts}
        try:
            workers = self.client.scheduler_info(n_workers=-1)["workers"]
        except Exception:  # noqa: BLE001
            return {h.index: "lost the scheduler" for h in self.hosts}
        return {h.index: "its Dask worker left the scheduler" for h in self.hosts if h.address not in workers}

    def _watch(self) -> None:
        self.watch_start = time.monotonic()
        beat = checked = 0.0
        stop_sent = False
        while True:
            self._drain_events()
            now = time.monotonic()
            if (self.signum is not None or self.stopper.requested) and not stop_sent:
                stop_sent = True
                self._set_control(stop=True)
            if now - beat > BEAT_S:
                beat = now
                with contextlib.suppress(Exception):
                    self._set_control()
            if now - checked > LOST_CHECK_S:
                checked = now
                for index, why in self._gone_hosts().items():
                    self._lose(index, why)
                for h in self.hosts:
                    silent = now - max(self.heard.get(h.index, 0.0), self.watch_start)
                    if h.index not in self.streamed_all and silent > HOST_SILENT_S:
                        self._lose(h.index, f"sent nothing for {silent:.0f}s")
            for h in self.hosts:
                f = self.futures[h.index]
                if h.index in self.results or h.index in self.lost or f.status == "pending":
                    continue
                why = self._host_error(h.index)
                if why:
                    self._lose(h.index, f"its run failed: {why}")
                elif f.status == "finished":
                    self.results[h.index] = f.result()
            self._show_seconds(final=False)
            if len(self.results) + len(self.lost) == len(self.hosts):
                break
            if self.force:
                for h in self.hosts:
                    if h.index not in self.results:
                        self._lose(h.index, "not waited for (second stop signal)")
                break
            time.sleep(LOOP_S)
        self._show_seconds(final=True)

    def _lose(self, index: int, why: str) -> None:
        if index in self.lost or index in self.results:
            return
        seconds = self.seconds[index]
        self.lost[index] = (max(seconds) + 1 if seconds else 0, why)
        h = self.hosts[index]
        with contextlib.suppress(Exception):
            self.client.cancel([self.futures[index]], force=True)
        with contextlib.suppress(Exception):       # if it is still there after all, it stops too
            self._set_control(lost=sorted(self.lost))
        if self.mirror is not None:
            rows = slice(h.first_worker, h.first_worker + h.procs)
            self.mirror.header[rows, Header.STATE] = WorkerState.KILLED
            for i in range(h.first_worker, h.first_worker + h.procs):
                self.mirror.set_message(i, f"host {h.name} lost: {why}")

    def _running_hosts(self) -> list[int]:
        return [h.index for h in self.hosts if h.index not in self.lost]

    def _show_seconds(self, final: bool) -> None:
        """Hand the observers every second that all running hosts have sent (or that waited long enough)."""
        while True:
            s = self.shown
            have = [i for i in range(len(self.hosts)) if s in self.seconds[i]]
            if not have:
                return
            complete = all(s in self.seconds[i] or i in self.results for i in self._running_hosts())
            if not (complete or final or time.monotonic() - self.first_seen[s] > TICK_WAIT_S):
                return
            self._tick(s, have)
            self.shown += 1

    def _event(self, second: int, text: str) -> None:
        """A line on the progress display (observers that show events have `event`)."""
        for o in self.obs.items:
            if hasattr(o, "event"):
                o.event(second, text)

    def _tick(self, s: int, have: list[int]) -> None:
        n_ops = len(self.op_names)
        secs = [self.seconds[i][s] for i in have]
        ts = np.sum([x.ts for x in secs], axis=0)
        ts[:, TsField.LAT_MAX_NS] = np.max([x.ts[:, TsField.LAT_MAX_NS] for x in secs], axis=0)
        hist = np.sum([x.hist.sum(axis=0) for x in secs], axis=0)
        self.merged_hist.append(hist)
        p50, p99, _ = tick_percentiles([hist], n_ops)
        cpu = np.zeros(self.total)
        for i, x in zip(have, secs):
            h = self.hosts[i]
            cpu[h.first_worker:h.first_worker + len(x.cpu_pct)] = x.cpu_pct
        running = len(self._running_hosts())
        if len(have) < running:
            self._event(s, f"{len(have)} of {running} hosts reported this second")
        self.obs.tick(Tick(s, ts[:, TsField.OPS], ts[:, TsField.BYTES], ts[:, TsField.ERRORS], ts[:, TsField.STALLED],
                           ts[:, TsField.INFLIGHT], p50[0], p99[0], hist, cpu,
                           ramp=any(x.ramp for x in secs), draining=all(x.draining for x in secs)))

    def _lost_note(self, h: Host) -> str:
        second, why = self.lost[h.index]
        return f"host {h.name} ({h.address}) lost after second {second}: {why}; its data up to then is kept"

    def _outcome(self) -> ClusterOutcome:
        results = []
        for h in self.hosts:
            host_plan = dataclasses.replace(self.plan, procs=h.procs, first_worker=h.first_worker,
                                            all_workers=self.total)
            if h.index in self.results:
                r = self.results[h.index]
                out = dataclasses.replace(r["outcome"], plan=dataclasses.replace(host_plan, cpus=r["outcome"].plan.cpus))
                first = r["first_op_at"] - h.clock_offset_s if r["first_op_at"] else self.first_op_at.get(h.index)
                results.append(HostResult(h, out, first))
            else:
                second, why = self.lost[h.index]
                out = from_stream(host_plan, self.op_names, self.seconds[h.index], self.started_at, why)
                results.append(HostResult(h, out, self.first_op_at.get(h.index), lost_at_s=second))
        pcts = tick_percentiles(self.merged_hist, len(self.op_names))
        notes = [self._lost_note(r.host) for r in results if r.lost_at_s is not None]
        merged = merge(self.plan, results, pcts, self.started_at, self.signum, notes)
        if self.signum is not None:
            merged.notes.insert(0, f"interrupted by {signal.Signals(self.signum).name}: every host drained and "
                                   "stopped; results cover the time until the stop")
        spread = first_op_spread_ms(results)
        if spread is not None and spread > CLOCK_WARN_MS:
            print(f"chopsticks: warning: the hosts' first operations began {spread:.1f} ms apart (more than "
                  f"{CLOCK_WARN_MS:g} ms): check the hosts' clocks (NTP) and load", file=sys.stderr)
        return ClusterOutcome(merged, results, spread)
