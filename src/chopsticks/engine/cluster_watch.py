"""The cluster watch: an observer in the parent that, once a second, asks the monitors for
`status` (one light command, never one per op) from a thread of its own, and turns what changed
into events with their second: health and its checks, OSDs down/up/out/in, PGs degraded, peering
or recovering. A monitor that stops answering never delays the run's tick: the watch says it
went blind, and when it sees again.

Per-second figures go to the JSON (`cluster_seconds`) and the time series (metrics/summary.py
CLUSTER_COLUMNS); events go to the JSON (`cluster_events`), the report, and as they happen to
`on_event(second, text)` (the progress display's event())."""
from __future__ import annotations

import json
import textwrap
import threading
import time
from dataclasses import asdict, dataclass

STATUS_COMMAND = json.dumps({"prefix": "status", "format": "json"})
OSD_DUMP_COMMAND = json.dumps({"prefix": "osd dump", "format": "json"})
MON_TIMEOUT_S = 5                   # a command unanswered this long fails; the next second asks again
BLIND_AFTER_S = 3.0                 # no answer for this long: the watch is blind
PG_STATES = ("degraded", "peering", "recovering")
REPORT_EVENTS = 12                  # events listed under the summary table; the JSON has them all


@dataclass(frozen=True)
class ClusterSecond:
    """What `status` said in one second of the run."""
    second: int
    health: str
    checks: dict[str, str]          # health check code → its summary ("OSD_DOWN": "1 osds down")
    osds: int
    osds_up: int
    osds_in: int
    pgs: int
    pgs_degraded: int
    pgs_peering: int
    pgs_recovering: int
    recovery_mib_s: float
    cluster_op_s: float
    osdmap_epoch: int


def parse_status(second: int, status: dict) -> ClusterSecond:
    """The figures the watch keeps from `ceph status --format json`."""
    health = status.get("health", {})
    osdmap = status.get("osdmap", {})
    osdmap = osdmap.get("osdmap", osdmap)           # nested in older releases
    pgmap = status.get("pgmap", {})
    by_state = {state: 0 for state in PG_STATES}
    for entry in pgmap.get("pgs_by_state", []):
        parts = entry["state_name"].split("+")
        for state in PG_STATES:
            if state in parts:
                by_state[state] += entry["count"]
    return ClusterSecond(
        second=second, health=health.get("status", "unknown"),
        checks={code: check.get("summary", {}).get("message", code) for code, check in health.get("checks", {}).items()},
        osds=osdmap.get("num_osds", 0), osds_up=osdmap.get("num_up_osds", 0), osds_in=osdmap.get("num_in_osds", 0),
        pgs=pgmap.get("num_pgs", 0), pgs_degraded=by_state["degraded"], pgs_peering=by_state["peering"],
        pgs_recovering=by_state["recovering"], recovery_mib_s=pgmap.get("recovering_bytes_per_sec", 0) / 2**20,
        cluster_op_s=float(pgmap.get("read_op_per_sec", 0) + pgmap.get("write_op_per_sec", 0)),
        osdmap_epoch=osdmap.get("epoch", 0))


def status_events(before: ClusterSecond, now: ClusterSecond) -> list[str]:
    """What changed between two seconds, in words."""
    events = []
    if now.health != before.health:
        events.append(f"{before.health} → {now.health}")
    for code, message in now.checks.items():
        if code not in before.checks:
            events.append(f"{now.health}: {message}")
    for code, message in before.checks.items():
        if code not in now.checks:
            events.append(f"cleared: {message}")
    if now.osds_up != before.osds_up:
        events.append(f"OSDs up {before.osds_up} → {now.osds_up}")
    if now.osds_in != before.osds_in:
        events.append(f"OSDs in {before.osds_in} → {now.osds_in}")
    for state in PG_STATES:
        a, b = getattr(before, f"pgs_{state}"), getattr(now, f"pgs_{state}")
        if a != b:
            events.append(f"PGs {state} {a} → {b}")
    return events


def osd_events(since_epoch: int, before: dict[int, tuple[bool, bool]], dump: dict) -> tuple[list[str], dict]:
    """OSD state changes after osdmap epoch `since_epoch`, from `osd dump`: an OSD marked down
    and back up between two samples still shows (its down_at). Returns the events and each
    OSD's (up, in) now."""
    events, states = [], {}
    for osd in dump.get("osds", []):
        n, up, inn = osd["osd"], bool(osd["up"]), bool(osd["in"])
        states[n] = (up, inn)
        was_up, was_in = before.get(n, (up, inn))
        if osd.get("down_at", 0) > since_epoch or (was_up and not up):
            events.append(f"osd.{n} down" + (" and back up" if up else "") + f" (osdmap epoch {osd.get('down_at')})")
        elif up and not was_up:
            events.append(f"osd.{n} up (osdmap epoch {osd.get('up_from')})")
        if inn != was_in:
            events.append(f"osd.{n} {'in' if inn else 'out'}")
    return events, states


class ClusterWatch:
    """Engine observer (started/tick/finish). New events reach `on_event(second, text)` from
    tick(), on the main thread; the results (report(), figures_by_second()) once it finished."""

    def __init__(self, conf: str, keyring: str = "", client_id: str = "admin", on_event=None):
        self.conf, self.keyring, self.client_id, self.on_event = conf, keyring, client_id, on_event
        self.events: list[dict] = []            # {"second", "event"}, in order
        self.seconds: list[ClusterSecond] = []
        self.blind_s = 0.0                      # seconds without an answer, over the run
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_ns = 0
        self._last_answer_ns = 0
        self._blind_since: int | None = None
        self._echoed = 0

    # --- observer -------------------------------------------------------------------------
    def started(self, run) -> None:
        self._start_ns = self._last_answer_ns = run.start_ns
        self._thread = threading.Thread(target=self._watch, name="chopsticks-cluster-watch", daemon=True)
        self._thread.start()

    def tick(self, tick) -> None:
        """On the main thread: notice the monitors went silent, hand new events to on_event."""
        now = time.monotonic_ns()
        with self._lock:
            if self._blind_since is None and now - self._last_answer_ns > BLIND_AFTER_S * 1e9:
                self._blind_since = self._second(self._last_answer_ns)
                self._add(tick.second, f"cluster watch blind: no answer from the monitors since second "
                                       f"{self._blind_since + 1}")
            new = self.events[self._echoed:]
            self._echoed = len(self.events)
        if self.on_event:
            for e in new:
                self.on_event(e["second"], e["event"])

    def finish(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)      # a hung monitor command is left to its daemon thread
        with self._lock:
            if self._blind_since is not None:   # still blind at the end
                self.blind_s += (time.monotonic_ns() - self._last_answer_ns) / 1e9

    # --- results ---------------------------------------------------------------------------
    def report(self) -> dict:
        """For the result JSON: the events and every answered second's figures."""
        with self._lock:
            return {"cluster_events": list(self.events),
                    "cluster_seconds": [asdict(s) for s in self.seconds],
                    "cluster_watch_blind_s": round(self.blind_s, 1)}

    def figures_by_second(self) -> dict[int, dict]:
        """{second: that second's figures} for the time series (the last answer in a second)."""
        with self._lock:
            return {s.second: asdict(s) for s in self.seconds}

    def report_lines(self, width: int | None = None) -> list[str]:
        """What the watch saw, for the report under the summary table (wrapped to a terminal's
        width when given)."""
        with self._lock:
            events, answered = list(self.events), len(self.seconds)
        if not events:
            return [f"cluster: no event ({answered} status answers)"]
        lines = [f"cluster at {e['second'] + 1:>4}s: {e['event']}" for e in events[:REPORT_EVENTS]]
        if len(events) > REPORT_EVENTS:
            lines.append(f"cluster: {len(events) - REPORT_EVENTS} more events in the JSON (cluster_events)")
        if width:
            lines = [wrapped for line in lines for wrapped in textwrap.wrap(line, width, subsequent_indent=" " * 18)]
        return lines

    # --- the thread ------------------------------------------------------------------------
    def _second(self, ns: int) -> int:
        return max(0, (ns - self._start_ns) // 1_000_000_000)

    def _add(self, second: int, text: str) -> None:
        self.events.append({"second": int(second), "event": text})

    def _event(self, second: int, text: str) -> None:
        with self._lock:
            self._add(second, text)

    def _watch(self) -> None:
        from chopsticks.ceph import import_ceph_module
        try:
            rados = import_ceph_module("rados")
            options = {"rados_mon_op_timeout": str(MON_TIMEOUT_S), "client_mount_timeout": str(MON_TIMEOUT_S)}
            if self.keyring:
                options["keyring"] = self.keyring
            cluster = rados.Rados(conffile=self.conf, rados_id=self.client_id, conf=options)
            cluster.connect(timeout=MON_TIMEOUT_S)
        except Exception as e:  # noqa: BLE001 - any failure only turns the watch off
            self._event(self._second(time.monotonic_ns()), f"cluster watch off: cannot reach the monitors ({e})")
            return
        try:
            self._poll(cluster)
        finally:
            cluster.shutdown()

    def _poll(self, cluster) -> None:
        prev: ClusterSecond | None = None
        osd_states: dict[int, tuple[bool, bool]] = {}
        while not self._stop.is_set():
            sent = time.monotonic_ns()
            second = self._second(sent)
            ret, out, _ = cluster.mon_command(STATUS_COMMAND, b"")
            answered = time.monotonic_ns()
            if ret == 0:
                sample = parse_status(second, json.loads(out))
                events = []
                if prev is None or sample.osdmap_epoch != prev.osdmap_epoch:
                    ret, dump, _ = cluster.mon_command(OSD_DUMP_COMMAND, b"")
                    if ret == 0:
                        found, osd_states = osd_events(prev.osdmap_epoch if prev else 2**62, osd_states, json.loads(dump))
                        events += found
                if prev is not None:
                    events += status_events(prev, sample)
                with self._lock:
                    if self._blind_since is not None:
                        self._add(second, f"cluster watch sees again after "
                                          f"{(answered - self._last_answer_ns) / 1e9:.0f}s without an answer")
                        self.blind_s += (answered - self._last_answer_ns) / 1e9
                        self._blind_since = None
                    self._last_answer_ns = answered
                    self.seconds.append(sample)
                    for text in events:
                        self._add(second, text)
                prev = sample
            # Ask again half-way through the next second of the run, clear of the engine's tick.
            k = (time.monotonic_ns() - self._start_ns - 500_000_000) // 1_000_000_000 + 1
            next_ns = self._start_ns + k * 1_000_000_000 + 500_000_000
            self._stop.wait(max(0.0, (next_ns - time.monotonic_ns()) / 1e9))
