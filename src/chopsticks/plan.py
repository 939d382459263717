"""The frozen description of a run that the engine and every worker receive."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chopsticks.engine.contract import Target


SCHEDULE_LAG = "schedule.lag"        # rate mode: intended start → actual submit
ARRIVALS = ("uniform", "poisson")    # in the order of _fast/engine.pxd's ARRIVALS_* codes
# What a worker pins to its CPU: the whole process before it connects (its librados/librbd threads
# too), only the thread that runs the loop (the client library's threads float), or nothing.
PIN_MODES = ("process", "thread", "none")


@dataclass(frozen=True)
class Plan:
    target: Target                  # what to load, and how (a backend's frozen dataclass)
    procs: int                      # worker processes
    cpus: tuple[int, ...]           # CPU each worker pins itself to
    max_inflight: int               # operations in flight per worker at most: --iodepth; bench s3's
                                    # --concurrency (one per connection or thread); run's users per worker
    duration_s: float | None        # measured time, after the ramp; None = until io_total
    ramp_s: int = 0                 # whole seconds at the start excluded from the results
    io_total: int | None = None     # bytes over all workers; None = until duration
    seed: int = 1
    op_timeout_s: float = 30.0      # an op older than this is counted as stalled
    command: tuple[str, ...] = ()   # the command line, for the result file
    pin: str = "process"            # process | thread | none: what each worker pins to its CPU (PIN_MODES)
    rate: float | None = None       # rate mode: intended ops/s over all workers; None = closed loop
    arrivals: str = "uniform"       # rate mode: uniform | poisson gaps between intended starts
    first_worker: int = 0           # global index of this host's worker 0 (cluster runs: host × procs)
    all_workers: int | None = None  # workers over all hosts; None = procs (one host)

    @property
    def op_names(self) -> tuple[str, ...]:
        """Every op slot recorded: the target's, then in rate mode `<op>.service` for each of
        them and `schedule.lag` (the layout _fast/engine.pxd records into)."""
        names = tuple(self.target.op_names)
        if self.rate is None:
            return names
        return (*names, *(f"{op}.service" for op in names), SCHEDULE_LAG)

    @property
    def derived_ops(self) -> tuple[str, ...]:
        """Slots that time parts of other ops: latency only, not in the "all" row."""
        own = tuple(self.target.derived_ops)
        if self.rate is None:
            return own
        return own + self.op_names[len(self.target.op_names):]

    @property
    def workers_total(self) -> int:
        """Workers over every host: what work (io_total, slices, users) is split over."""
        return self.all_workers or self.procs

    def worker_seed(self, index: int, *parts: int) -> int:
        """The seed of global worker `index` (its loop and payload), or of one of its parts (a
        thread, a user) — never the same for two workers, on one host or many."""
        return derive_seed(self.seed, index, *parts)

    def worker_index(self, local: int) -> int:
        """Global index of this host's worker `local`: seeds, images, prefixes and slices use it,
        so they never collide across hosts."""
        return self.first_worker + local

    @property
    def max_secs(self) -> int:
        """Rows of the per-second time series: the whole run plus room to drain."""
        if self.duration_s is None:
            return 86400
        return self.ramp_s + math.ceil(self.duration_s) + int(self.op_timeout_s) + 10

    def ops_limit(self) -> int:
        """Operations each worker may submit (io_total split evenly), or effectively no limit."""
        if self.io_total is None:
            return 2**63 - 1
        return min(2**63 - 1, max(1, math.ceil(self.io_total / self.target.bytes_per_op / self.workers_total)))


def derive_seed(seed: int, *parts: int) -> int:
    """One 64-bit seed per (run seed, worker, part...): the one place seeds are mixed."""
    value = seed & (2**64 - 1)
    for part in parts:
        value = (value * 1_000_003 + part) & (2**64 - 1)
    return value
