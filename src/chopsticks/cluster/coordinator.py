"""The client side of a cluster run: wait for the hosts, check their versions and clocks, give
each its pinned task, start them at one instant, merge their streams into one progress line,
notice a lost host, pass Ctrl+C on, and merge their results exactly."""
from __future__ import annotations

import contextlib
import dataclasses
import os
import queue
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass

from chopsticks.cluster import connect, files, stream
from chopsticks.cluster.host import control_name, run_host
from chopsticks.cluster.hosts import CLOCK_WARN_MS, Host, find_hosts
from chopsticks.cluster.outcome import (HostResult, StreamedSecond, first_op_spread_ms, from_stream, host_entries,
                                        merge, tick_percentiles)
from chopsticks.cluster.progress import StreamMerger
from chopsticks.engine.live import LiveRun, Observers
from chopsticks.engine.pool import RunOutcome
from chopsticks.engine.shm import Header, RunMemory, ShmLayout, WorkerState
from chopsticks.errors import ChopsticksError, Interrupted
from chopsticks.plan import Plan

LOOP_S = 0.05
BEAT_S = 0.5
LOST_CHECK_S = 1.0
START_LEAD_S = 0.5          # the start instant is this far ahead of the moment every host is ready
HOST_SILENT_S = 10.0        # a running host that sent nothing for this long is lost (a cut network:
                            # the scheduler would notice only after its worker-ttl, minutes)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


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
    client_cpu_pct: float = float("nan")  # this client's CPU while the hosts ran (stream merge, progress)

    @property
    def host_entries(self) -> list[dict]:
        """The JSON's `hosts` (cluster/outcome.py documents the keys)."""
        return host_entries(self.hosts)

    def document(self) -> dict:
        """What a cluster run adds to the JSON: `hosts`, `first_op_spread_ms` (how far apart the
        hosts' first ops began, client clock) and `client_cpu_pct` (100 = one core)."""
        return {"hosts": self.host_entries, "first_op_spread_ms": self.first_op_spread_ms,
                "client_cpu_pct": self.client_cpu_pct}

    def by_host(self) -> list[tuple[str, RunOutcome]]:
        """(name, outcome) of each host, for the time series' per-host rows."""
        return [(r.host.name, r.outcome) for r in self.hosts]


def run_cluster(plan: Plan, request: ClusterRequest, observers=()) -> ClusterOutcome:
    """Run `plan` on every host of the cluster (`plan.procs` is ignored: see request.procs)."""
    if request.hosts is None and connect.local_hosts(request.address):
        request = dataclasses.replace(request, hosts=connect.local_hosts(request.address))
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(connect.cluster_client(request.address))
        hosts = find_hosts(client, request.hosts, request.wait_hosts_s, request.procs, request.procs_cap)
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
        self.merger = StreamMerger(hosts, self.op_names, obs)
        self.heard: dict[int, float] = {}           # host → monotonic time of its last message
        self.streamed_all: set[int] = set()         # hosts whose workers have stopped ("done")
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
                self.merger.add(host, msg["second"], sec)
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
            self.merger.show(self._streaming(), final=False)
            if len(self.results) + len(self.lost) == len(self.hosts):
                break
            if self.force:
                for h in self.hosts:
                    if h.index not in self.results:
                        self._lose(h.index, "not waited for (second stop signal)")
                break
            time.sleep(LOOP_S)
        self.merger.show(self._streaming(), final=True)

    def _lose(self, index: int, why: str) -> None:
        if index in self.lost or index in self.results:
            return
        seconds = self.merger.seconds[index]
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

    def _streaming(self) -> set[int]:
        """Hosts whose next second is still to come."""
        return {h.index for h in self.hosts
                if h.index not in self.lost and h.index not in self.results and h.index not in self.streamed_all}

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
                if r["stop_reason"] and self.signum is None and not self.stopper.requested:
                    # it stopped by itself: say why instead of the engine's "interrupted by a stop request"
                    out.notes = [f"stopped early: {r['stop_reason']}" if n.startswith("interrupted by") else n
                                 for n in out.notes]
                first = r["first_op_at"] - h.clock_offset_s if r["first_op_at"] else self.first_op_at.get(h.index)
                results.append(HostResult(h, out, first))
            else:
                second, why = self.lost[h.index]
                out = from_stream(host_plan, self.op_names, self.merger.seconds[h.index], self.started_at, why)
                results.append(HostResult(h, out, self.first_op_at.get(h.index), lost_at_s=second))
        pcts = tick_percentiles(self.merger.merged_hist, len(self.op_names))
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
