"""What the engine needs of a backend: a picklable, frozen Target that validates itself in the
parent and opens one session per worker process. The engine imports no backend module."""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

    from chopsticks.plan import Plan


class WorkerSession(Protocol):
    def run(self, hist: np.ndarray, ts: np.ndarray, errors: np.ndarray, stop: np.ndarray,
            spec: dict) -> dict:
        """Run the hot loop (GIL released) until stop[0], the deadline or the op budget."""

    def close(self) -> None: ...


class Target(Protocol):
    name: str                       # "rbd", "null", ...
    op_names: tuple[str, ...]       # op index → name, as recorded by the loop
    bytes_per_op: int               # to turn --io-total into an op budget
    derived_ops: tuple[str, ...]    # slots that time parts of other ops (TTFB, ...): not in the "all" row

    def prepare(self, plan: Plan) -> dict:
        """In the parent, before any worker starts: check the target; raise ChopsticksError with
        a one-line message if unusable; return facts for the result (fsid, image size, ...)."""

    def open_worker(self, plan: Plan, index: int) -> WorkerSession:
        """In worker `index` (global over hosts: plan.worker_index(local)): connect/open and
        allocate buffers. Work is split over plan.workers_total."""

    def error_name(self, code: int) -> str:
        """Name of an error code the loop recorded (e.g. 'EIO', 'stalled')."""

    def settings(self) -> dict:
        """The target's settings for result files (secrets redacted)."""
