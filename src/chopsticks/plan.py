"""The frozen description of a run that the engine and every worker receive."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chopsticks.backends import Target


@dataclass(frozen=True)
class Plan:
    target: Target                  # what to load, and how (a backend's frozen dataclass)
    procs: int                      # worker processes
    cpus: tuple[int, ...]           # CPU each worker pins itself to
    iodepth: int                    # operations in flight per worker
    duration_s: float | None        # measured time, after the ramp; None = until io_total
    ramp_s: int = 0                 # whole seconds at the start excluded from the results
    io_total: int | None = None     # bytes over all workers; None = until duration
    seed: int = 1
    op_timeout_s: float = 30.0      # an op older than this is counted as stalled
    command: tuple[str, ...] = ()   # the command line, for the result file
    first_worker: int = 0           # global index of this host's worker 0 (cluster runs: host × procs)
    all_workers: int | None = None  # workers over all hosts; None = procs (one host)

    @property
    def workers_total(self) -> int:
        """Workers over every host: what work (io_total, slices, users) is split over."""
        return self.all_workers or self.procs

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
