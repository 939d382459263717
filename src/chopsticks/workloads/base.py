"""What every scenario class is made of: `@task` weights and `@tag`s, wait times, the Workload
base class with its key and payload helpers, and the timed client base that records each call."""
from __future__ import annotations

import datetime
import logging
import threading
import time
import uuid
from random import Random
from typing import Any, Callable, ClassVar

from chopsticks._fast.payload import make_payload

PAYLOAD_CACHE_BYTES = 64 << 20     # bytes of generate_data results kept per worker, by size

log = logging.getLogger("chopsticks.scenario")
_warned_ops: set[str] = set()       # _record_metric operation types already said to be ignored


def task(weight: int | Callable = 1):
    """Mark a method as a task, picked with probability proportional to `weight`: `@task` or `@task(3)`."""
    if callable(weight):
        weight.task_weight = 1
        return weight
    if isinstance(weight, bool) or not isinstance(weight, int) or weight < 1:
        raise ValueError(f"@task weight must be an integer >= 1, got {weight!r}")

    def mark(fn: Callable) -> Callable:
        fn.task_weight = weight
        return fn
    return mark


def tag(*names: str):
    """Label a task for `chopsticks run --tags/--exclude-tags`, as in Locust: `@tag("write")`."""
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"@tag takes one or more non-empty names, got {names!r}")

    def mark(fn: Callable) -> Callable:
        fn.task_tags = frozenset(getattr(fn, "task_tags", ())) | frozenset(names)
        return fn
    return mark


def between(low: float, high: float) -> Callable[[Workload], float]:
    """wait_time: a uniformly random pause of `low`..`high` seconds after each task."""
    return lambda user: user.random.uniform(low, high)


def constant(seconds: float) -> Callable[[Workload], float]:
    """wait_time: the same pause after each task."""
    return lambda user: seconds


def constant_pacing(seconds: float) -> Callable[[Workload], float]:
    """wait_time: pause so that a task starts every `seconds` (no pause when a task took longer)."""
    return lambda user: max(0.0, seconds - (time.monotonic() - user.task_started))


def tasks_of(cls: type, tags: tuple[str, ...] = (), exclude_tags: tuple[str, ...] = ()) -> dict[str, Callable]:
    """The class's task methods by name, in definition order, inherited ones first; with `tags`,
    only those carrying one of them, and none carrying one of `exclude_tags` (Locust's rule)."""
    found: dict[str, Callable] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if callable(value) and hasattr(value, "task_weight"):
                found[name] = value
            else:
                found.pop(name, None)       # overridden by something that is not a task
    return {name: fn for name, fn in found.items()
            if (not tags or getattr(fn, "task_tags", frozenset()) & set(tags))
            and not getattr(fn, "task_tags", frozenset()) & set(exclude_tags)}


class PayloadPool:
    """generate_data's bytes: one random buffer per worker from make_payload, grown when a larger
    size is asked for; slices of it are cached by size up to PAYLOAD_CACHE_BYTES."""

    def __init__(self, seed: int):
        self.seed, self.buffer, self.by_size, self.cached = seed, b"", {}, 0
        self.lock = threading.Lock()

    def get(self, size: int) -> bytes:
        data = self.by_size.get(size)
        if data is not None:
            return data
        with self.lock:
            if size > len(self.buffer):
                self.buffer = make_payload(max(size, 2 * len(self.buffer)), "random", seed=self.seed)
            data = self.buffer[:size]
            if self.cached + size <= PAYLOAD_CACHE_BYTES:
                self.by_size[size] = data
                self.cached += size
        return data


class TimedClient:
    """Base of the clients scenarios call: each call is timed and recorded on its op's slot
    while `recorder` (the session's backends.threads.ThreadedCalls) is set; the session unsets
    it for on_stop, which is not measured.

    A client class also tells the engine what it needs: `op_names` (its slots, first in the
    target's op list), `prepare(config)` in the parent, `connect(config)` once per worker (the
    handle its instances share), `disconnect(handle)`, and `error_name(code)`."""

    op_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, recorder):
        self.recorder = recorder
        self.task_ops: set[int] = set()     # ops called in the current task (see Workload._record_metric)

    def _begin(self, op: int):
        """A call of `op` starts: the handle to pass to _end."""
        self.task_ops.add(op)
        return None if self.recorder is None else self.recorder.begin(op)

    def _end(self, call, ok: bool, nbytes: int, code: int) -> None:
        if call is None or self.recorder is None:
            return
        if ok:
            self.recorder.ok(call, nbytes)
        else:
            self.recorder.error(call, code)

    def close(self) -> None:
        """Release what this user's client holds; the default holds nothing."""

    @staticmethod
    def disconnect(handle: Any) -> None:
        """Release the per-worker handle from connect(); the default holds nothing."""


class Workload:
    """Base of scenario classes (use S3Workload or RBDWorkload). Class attributes: `@task`
    methods, `wait_time` (default: no pause); hooks `on_start` and `on_stop`; `abstract = True`
    keeps a base class of your own from being run."""

    client_class: ClassVar[type[TimedClient] | None] = None
    abstract: ClassVar[bool] = True
    wait_time: Callable[[Workload], float] = constant(0)

    def __init__(self, client: TimedClient, index: int, seed: int, payloads: PayloadPool):
        self.client = client
        self.user_id = index            # 0 .. --users - 1, in spawn order
        self.random = Random(seed)      # per user, derived from --seed: reproducible choices
        self.task_started = time.monotonic()   # set before each task, for constant_pacing
        self._payloads = payloads

    def on_start(self) -> None:
        """Called once when the user starts, before its first task."""

    def on_stop(self) -> None:
        """Called once when the run ends (not measured): clean up here."""

    def generate_key(self, prefix: str = "test") -> str:
        """A unique object key: '{prefix}/{uuid4}'."""
        return f"{prefix}/{uuid.uuid4()}"

    def generate_data(self, size: int) -> bytes:
        """`size` random bytes, from a buffer prepared once per worker (never generated per call)."""
        return self._payloads.get(size)

    @property
    def scenario_config(self) -> dict[str, dict[str, Any]]:
        """Every section of the run's scenario config (chopsticks 0.x's attribute), as a copy."""
        from chopsticks.workloads.scenario_config import active

        return {name: dict(section) for name, section in active().values.items()}

    def _record_metric(self, operation_type, key: str, size_bytes: int, start_time, end_time, success: bool,
                       error_code: str | None = None, error_msg: str | None = None, **metadata) -> None:
        """chopsticks 0.x's per-operation metric hook, which scenarios called after a client call
        (and could override): chopsticks already times every client call, so a record is counted
        only when it describes something the client did not see. See record_operation_metric."""
        self.record_operation_metric(operation_type=operation_type, key=key, size_bytes=size_bytes,
                                     start_time=start_time, end_time=end_time, success=success,
                                     error_code=error_code, error_msg=error_msg, metadata=metadata)

    def record_operation_metric(self, operation_type, key: str, size_bytes: int, start_time, end_time,
                                success: bool, error_code: str | None = None, error_msg: str | None = None,
                                metadata: dict | None = None) -> None:
        """An explicit record of an operation (chopsticks 0.x API). The rule against double
        counting: if this user's client made a call of the same operation during the current task
        (or on_start), the record describes that call, already timed and counted, and is dropped;
        otherwise it is counted on the operation's row (upload, download, ..., read, write) with
        its own duration (end_time - start_time, datetimes or seconds), `size_bytes` and success,
        a failure under the error name `other`. Records of an operation the workload's client
        does not have, and records made in on_stop, are dropped."""
        op = getattr(operation_type, "value", operation_type)
        names = self.client.op_names
        if op not in names:
            if op not in _warned_ops:
                _warned_ops.add(op)
                log.warning("_record_metric(operation_type=%r) ignored: %s has no such operation (its operations: "
                            "%s)", op, type(self.client).__name__, ", ".join(names))
            return
        slot = names.index(op)
        if slot in self.client.task_ops or self.client.recorder is None:
            return
        seconds = ((end_time - start_time).total_seconds() if isinstance(start_time, datetime.datetime)
                   else float(end_time) - float(start_time))
        self.client.recorder.record(slot, bool(success), max(0, int(seconds * 1e9)), size_bytes if success else 0, 0)
