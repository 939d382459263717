"""The engine's contract with backends and with whatever reads a run (metrics, reports, cluster
runs): what a Target and its WorkerSession provide, what a run hands back (RunOutcome), and the
error codes the engine reserves. A leaf: backends and metrics import it, it imports neither."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Protocol

from chopsticks._fast.histogram import CONSTANTS

if TYPE_CHECKING:
    import numpy as np

    from chopsticks.plan import Plan

ERR_CODES = CONSTANTS["err_codes"]      # error counters per op; codes 1 .. ERR_CODES-3 are the backend's
ERR_STALLED = CONSTANTS["err_stalled"]  # reserved: an op seen in flight longer than --op-timeout
ERR_OTHER = CONSTANTS["err_other"]      # reserved: a code outside the backend's range
ERR_VERIFY = CONSTANTS["err_verify"]    # reserved: --verify found a block that does not match
RESERVED_ERROR_NAMES = {ERR_STALLED: "stalled", ERR_OTHER: "other", ERR_VERIFY: "verify"}


class WorkerSession(Protocol):
    def run(self, hist: np.ndarray, ts: np.ndarray, errors: np.ndarray, stop: np.ndarray,
            spec: dict) -> dict:
        """Run the hot loop (GIL released) until stop[0], the deadline or the op budget; spec is
        _fast/engine.pxd's RunSpec as a dict (engine/pool.py loop_spec)."""

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
        """Name of one of the backend's own error codes (e.g. 'EIO', 'auth'); the reserved codes
        are named by error_namer, never by a backend."""

    def settings(self) -> dict:
        """The target's settings for result files (secrets redacted)."""


def error_namer(target: Target) -> Callable[[int], str]:
    """How every reader of a run names an error code: the engine's reserved codes ('stalled',
    'other', 'verify') by RESERVED_ERROR_NAMES, the rest by the target."""
    def name_of(code: int) -> str:
        return RESERVED_ERROR_NAMES.get(code) or target.error_name(code)
    return name_of


@dataclass
class RunOutcome:
    plan: Plan
    info: dict                      # from Target.prepare (fsid, image sizes, ...)
    op_names: tuple[str, ...]
    hist: np.ndarray                # uint64[n_workers][N_PHASES][n_ops][NBUCKETS]
    ts: np.ndarray                  # int64[n_workers][secs][n_ops][TS_FIELDS], secs run so far
    errors: np.ndarray              # int64[n_workers][N_PHASES][n_ops][ERR_CODES]
    tick_p50_ns: np.ndarray         # float[secs][n_ops], NaN where not sampled
    tick_p99_ns: np.ndarray
    tick_p99_9_ns: np.ndarray
    workers: list[dict]
    start_ns: int
    ramp_end_ns: int
    end_ns: int                     # end of the measured time: the deadline, the stop, or the last op
    started_at: float               # wall clock (epoch s) of the start
    partial: bool = False
    stop_signal: int | None = None  # the signal that stopped the run early (partial too)
    notes: list[str] = field(default_factory=list)

    @property
    def measured_s(self) -> float:
        return max(0.0, (self.end_ns - self.ramp_end_ns) / 1e9)

    @property
    def interrupted(self) -> bool:
        return self.stop_signal is not None

    @property
    def measured_secs(self) -> int:
        """Rows of the time series that belong to the measured time (ramp included); later rows
        hold only the drain."""
        return max(0, -(-(self.end_ns - self.start_ns) // 1_000_000_000))
