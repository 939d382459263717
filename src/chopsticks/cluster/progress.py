"""The hosts' per-second streams merged into one Tick per second for the client's observers (the
progress display): a second is handed on once every running host sent it, or a little later."""
from __future__ import annotations

import time

import numpy as np

from chopsticks.cluster.hosts import Host
from chopsticks.cluster.outcome import StreamedSecond, tick_percentiles
from chopsticks.engine.live import Observers, Tick
from chopsticks.engine.shm import TsField

TICK_WAIT_S = 2.0           # a second is shown once every running host sent it, or this long after the first did


class StreamMerger:
    def __init__(self, hosts: list[Host], op_names: tuple[str, ...], obs: Observers):
        self.hosts, self.op_names, self.obs = hosts, op_names, obs
        self.total = sum(h.procs for h in hosts)
        self.seconds: list[dict[int, StreamedSecond]] = [{} for _ in hosts]     # per host, as streamed
        self.first_seen: dict[int, float] = {}
        self.merged_hist: list[np.ndarray] = []     # per second shown: the cluster's histogram change
        self.shown = 0

    def add(self, host: int, second: int, sec: StreamedSecond) -> None:
        self.seconds[host][second] = sec
        self.first_seen.setdefault(second, time.monotonic())

    def show(self, waiting_for: set[int], final: bool) -> None:
        """Hand on every second that the hosts in `waiting_for` have all sent, that waited long
        enough, or (final) that any host sent."""
        while True:
            s = self.shown
            have = [i for i in range(len(self.hosts)) if s in self.seconds[i]]
            if not have:
                return
            complete = all(s in self.seconds[i] for i in waiting_for)
            if not (complete or final or time.monotonic() - self.first_seen[s] > TICK_WAIT_S):
                return
            self._tick(s, have, len(waiting_for | set(have)))
            self.shown += 1

    def event(self, second: int, text: str) -> None:
        """A line on the progress display (observers that show events have `event`)."""
        for o in self.obs.items:
            if hasattr(o, "event"):
                o.event(second, text)

    def _tick(self, s: int, have: list[int], expected: int) -> None:
        secs = [self.seconds[i][s] for i in have]
        ts = np.sum([x.ts for x in secs], axis=0)
        ts[:, TsField.LAT_MAX_NS] = np.max([x.ts[:, TsField.LAT_MAX_NS] for x in secs], axis=0)
        hist = np.sum([x.hist.sum(axis=0) for x in secs], axis=0)
        self.merged_hist.append(hist)
        p50, p99, _ = tick_percentiles([hist], len(self.op_names))
        cpu = np.zeros(self.total)
        for i, x in zip(have, secs):
            h = self.hosts[i]
            cpu[h.first_worker:h.first_worker + len(x.cpu_pct)] = x.cpu_pct
        if len(have) < expected:
            self.event(s, f"{len(have)} of {expected} hosts reported this second")
        self.obs.tick(Tick(s, ts[:, TsField.OPS], ts[:, TsField.BYTES], ts[:, TsField.ERRORS], ts[:, TsField.STALLED],
                           ts[:, TsField.INFLIGHT], p50[0], p99[0], hist, cpu,
                           ramp=any(x.ramp for x in secs), draining=all(x.draining for x in secs)))
