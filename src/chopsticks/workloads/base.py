"""What every scenario class is made of: `@task` weights, wait times, the Workload base class with
its key and payload helpers, and the timed client base that records each call."""
from __future__ import annotations

import threading
import time
import uuid
from random import Random
from typing import Any, Callable, ClassVar

from chopsticks._fast.payload import make_payload

PAYLOAD_CACHE_BYTES = 64 << 20     # bytes of generate_data results kept per worker, by size


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


def between(low: float, high: float) -> Callable[[Workload], float]:
    """wait_time: a uniformly random pause of `low`..`high` seconds after each task."""
    return lambda user: user.random.uniform(low, high)


def constant(seconds: float) -> Callable[[Workload], float]:
    """wait_time: the same pause after each task."""
    return lambda user: seconds


def constant_pacing(seconds: float) -> Callable[[Workload], float]:
    """wait_time: pause so that a task starts every `seconds` (no pause when a task took longer)."""
    return lambda user: max(0.0, seconds - (time.monotonic() - user.task_started))


def tasks_of(cls: type) -> dict[str, Callable]:
    """The class's task methods by name, in definition order, inherited ones first."""
    found: dict[str, Callable] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if callable(value) and hasattr(value, "task_weight"):
                found[name] = value
            else:
                found.pop(name, None)       # overridden by something that is not a task
    return found


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
    while `recorder` is set (the session unsets it for on_stop, which is not measured).

    A client class also tells the engine what it needs: `op_names` (its slots, first in the
    target's op list), `prepare(config)` in the parent, `connect(config)` once per worker (the
    handle its instances share), `disconnect(handle)`, and `error_name(code)`."""

    op_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, recorder):
        self.recorder = recorder
        self.calls = 0                  # calls recorded, ok or failed

    def _record(self, op: int, t0: int, ok: bool, nbytes: int, code: int) -> None:
        t1 = time.monotonic_ns()
        if self.recorder is None:
            return
        self.calls += 1
        if ok:
            self.recorder.ok(op, t1 - t0, nbytes, t1)
        else:
            self.recorder.error(op, code, t1)

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
