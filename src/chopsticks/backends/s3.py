"""The S3 backend for Python drivers (s5cmd, boto3, mock, custom): each worker process runs
`concurrency` threads, each with its own driver, timing every call and recording it into the
worker's shared-memory rows. This path makes one Python call per op, by design: the drivers are
Python. Payloads are built once per worker, never per op.

A call stuck past --op-timeout (a gateway that stopped answering) does not hold the run: see
backends/threads.py for how the end is bounded. Set-up (bucket check, prefill) and cleanup report
a failure in one line of their own, not through the drivers' per-error log lines."""
from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
from typing import ClassVar
from dataclasses import dataclass

from chopsticks._fast.histogram import SlotRecorder
from chopsticks._fast.payload import make_payload
from chopsticks._fast.schedule import Schedule
from chopsticks.backends.threads import CLOSE_GRACE_NS, ThreadedCalls
from chopsticks.config import S3Config
from chopsticks.drivers.s3.base import BaseS3Driver, error_code, error_code_name, listing_ok
from chopsticks.drivers.s3.registry import create_driver, unknown_driver_config
from chopsticks.engine.contract import ERR_STALLED
from chopsticks.errors import ChopsticksError

S3_OPS = ("put", "get", "delete", "head", "list")
PAYLOAD_VARIANTS = 16               # distinct sizes prepared for a size range

log = logging.getLogger("chopsticks.s3")


@dataclass(frozen=True)
class S3Target:
    config: S3Config
    mix: tuple[tuple[str, int], ...]    # (op, weight); one op with weight 1 for a single-op run
    size_min: int = 4096
    size_max: int = 4096
    objects: int = 100                  # objects each thread writes before the start (for get/head/delete)
    prefix: str = "chopsticks-bench"
    cleanup: bool = True
    verify: bool = False                # stamp PUT bodies, check GET bodies (payload.pxd's stamps)
    name = "s3"
    op_names = S3_OPS
    derived_ops: ClassVar[tuple[str, ...]] = ()
    supports_rate: ClassVar[bool] = True    # the threads follow _fast/schedule.pyx's schedule

    @property
    def bytes_per_op(self) -> int:
        return (self.size_min + self.size_max) // 2

    def needs_prefill(self) -> bool:
        return any(op in ("get", "head", "delete") for op, _ in self.mix)

    def prepare(self, plan) -> dict:
        """Check the endpoint, the keys and the bucket (created when missing) before any worker;
        warn once about driver_config keys the driver does not read."""
        warning = unknown_driver_config(self.config)
        if warning:
            log.warning("%s", warning)
        ensure_bucket(self.config)
        return {"endpoint": self.config.endpoint, "bucket": self.config.bucket, "driver": self.config.driver}

    def open_worker(self, plan, index: int) -> S3Session:
        return S3Session(self, plan, index)

    def error_name(self, code: int) -> str:
        return "stalled" if code == ERR_STALLED else error_code_name(code)

    def settings(self) -> dict:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "config"}
        return {"backend": self.name, "config": self.config.redacted(), **fields}


def ensure_bucket(config: S3Config) -> None:
    """The bucket is usable (created when missing) from this process: once in the parent, and once
    per worker, since mock buckets live in their process. A failure is the one-line error alone:
    the driver's own log line would say the same again, and "further errors" of a run that never
    started."""
    driver = create_driver(config)
    driver.log_errors = False
    try:
        driver.ensure_bucket()
    finally:
        driver.close()


def _payloads(target: S3Target, seed: int) -> list[bytes]:
    """One random buffer, sliced once into the sizes this worker will upload."""
    buf = make_payload(target.size_max, "random", seed=seed)
    if target.size_min == target.size_max:
        return [buf]
    rng = random.Random(seed)
    return [buf[: rng.randint(target.size_min, target.size_max)] for _ in range(PAYLOAD_VARIANTS)]


class _Thread:
    """One client thread: its own driver, its own keys, its own RNG."""

    def __init__(self, target: S3Target, prefix: str, seed: int):
        self.driver = create_driver(target.config)
        self.prefix, self.rng = prefix, random.Random(seed)
        self.keys: list[str] = []
        self.created: set[str] = set()
        self.serial = 0

    def new_key(self) -> str:
        self.serial += 1
        return f"{self.prefix}/{self.serial:09d}"


class S3Session:
    def __init__(self, target: S3Target, plan, index: int):
        self.target, self.index = target, index
        self.op_timeout_ns = int(plan.op_timeout_s * 1e9)
        ensure_bucket(target.config)
        self.payloads = _payloads(target, plan.seed * 7919 + index)
        self.base = f"{target.prefix}/{int(time.time())}-w{index}"
        self.threads = [_Thread(target, f"{self.base}-t{t}", plan.seed * 1_000_003 + index * 1000 + t)
                        for t in range(plan.max_inflight)]
        self.calls: ThreadedCalls | None = None
        if target.needs_prefill():
            failures = _on_each_thread(self._prefill, self.threads)
            if failures:
                raise failures[0]

    def _prefill(self, t: _Thread) -> None:
        """Upload this thread's objects before the start; the first failure stops the worker
        (a run whose objects could not be written would measure nothing meaningful)."""
        t.driver.log_errors = False
        for _ in range(self.target.objects):
            key = t.new_key()
            if not t.driver.upload(key, self.payloads[0]):
                raise ChopsticksError(f"cannot write the objects to read before the start (--objects) to bucket "
                                      f"{self.target.config.bucket!r}: {_reason(t.driver)}")
            t.keys.append(key)
            t.created.add(key)
        t.driver.log_errors = True

    def run(self, hist, ts, errors, stop, spec: dict) -> dict:
        calls = self.calls = ThreadedCalls(SlotRecorder(hist, ts, errors, spec), spec, stop)
        ops, weights = zip(*self.target.mix)
        budget = [spec["ops_limit"]]
        lock = threading.Lock()
        submitted = [0]

        schedule = Schedule(spec["rate"], spec["arrivals"], spec["seed"], spec["first_due_ns"]) if spec["rate"] else None

        def loop(t: _Thread) -> None:
            while calls.live():
                op = self._next_op(t, t.rng.choices(ops, weights)[0])
                if op is None:
                    return
                with lock:
                    if budget[0] <= 0:
                        return
                    budget[0] -= 1
                    submitted[0] += 1
                    # Rate mode: a free thread takes the next intended start, late or not.
                    intended = schedule.next() if schedule else None
                if intended is not None:
                    calls.pause((intended - time.monotonic_ns()) / 1e9)
                    if not calls.live():
                        return
                self._one(t, op, calls, intended)

        for i, t in enumerate(self.threads):
            calls.start(loop, t, name=f"s3-client-{i}")
        calls.wait_until(spec["deadline_ns"], or_all_done=True)
        left = calls.finish()
        return {"submitted": submitted[0], "completed": calls.recorded, "inflight_left": left, "fatal_errno": 0}

    def _next_op(self, t: _Thread, op: str) -> str | None:
        """The op to do: one that needs an object becomes a put while the thread has none;
        None when there is nothing left to do (a delete-only run with every object deleted)."""
        if op in ("get", "head", "delete") and not t.keys:
            if op == "delete" and len(self.target.mix) == 1:
                return None
            return "put"
        return op

    def _one(self, t: _Thread, op: str, calls: ThreadedCalls, intended_ns: int | None = None) -> None:
        """Do one op and record it (timed from intended_ns in rate mode)."""
        d = t.driver
        call = calls.begin(S3_OPS.index(op), intended_ns)
        try:
            ok, nbytes = self._request(t, op)
        except BaseException:       # a driver that raises breaks the API: counted as 'other', its thread ends
            calls.error(call, error_code(None))
            raise
        if ok:
            calls.ok(call, nbytes)
        else:
            calls.error(call, error_code(d.last_error))

    def _request(self, t: _Thread, op: str) -> tuple[bool, int]:
        """(success, bytes moved) of one request of `op` on the thread's driver."""
        d = t.driver
        if op == "put":
            data = self.payloads[t.rng.randrange(len(self.payloads))]
            key = t.new_key()
            ok, nbytes = d.upload(key, data), len(data)
            if ok:
                t.keys.append(key)
                t.created.add(key)
        elif op == "get":
            body = d.download(t.keys[t.rng.randrange(len(t.keys))])
            ok, nbytes = body is not None, len(body or b"")
        elif op == "head":
            ok, nbytes = d.head_object(t.keys[t.rng.randrange(len(t.keys))]) is not None, 0
        elif op == "delete":
            key = t.keys.pop(t.rng.randrange(len(t.keys)))
            ok, nbytes = d.delete(key), 0
            t.created.discard(key)
        else:
            before = d.last_error
            keys = d.list_objects(prefix=t.prefix, max_keys=1000)
            ok, nbytes = listing_ok(keys, before, d.last_error), 0
        return ok, nbytes

    def close(self) -> None:
        """Delete what the run created (unless --no-cleanup) by the time the engine allows, then
        close the drivers; a thread still stuck in a call keeps its driver and its objects."""
        calls = self.calls
        stuck = {id(t) for t, thread in zip(self.threads, calls.threads) if thread.is_alive()} if calls else set()
        free = [t for t in self.threads if id(t) not in stuck]
        if self.target.cleanup:
            close_by = calls.close_by_ns() if calls else time.monotonic_ns() + self.op_timeout_ns + CLOSE_GRACE_NS
            self._cleanup(free, close_by)
        for t in free:
            t.driver.close()

    def _cleanup(self, free: list[_Thread], close_by_ns: int) -> None:
        """Delete each free thread's objects, from its own driver, until close_by_ns; objects left
        behind are said in one line (how many, why, where)."""
        total = sum(len(t.created) for t in self.threads)
        reasons: list[str] = []

        def clean(t: _Thread) -> None:
            t.driver.log_errors = False
            for key in sorted(t.created):
                if time.monotonic_ns() >= close_by_ns:
                    return
                if t.driver.delete(key):
                    t.created.discard(key)
                else:
                    reasons.append(_reason(t.driver))

        _on_each_thread(clean, free, until_ns=close_by_ns)
        left = sum(len(t.created) for t in self.threads)
        if left:
            why = reasons[0] if reasons else "no reply in time (the gateway may be down or stalled)"
            log.warning("cleanup of worker %d: %d of %d objects it created were not deleted: %s; they remain in "
                        "bucket %r under %s-t*/", self.index, left, total, why, self.target.config.bucket, self.base)


def _reason(driver: BaseS3Driver) -> str:
    """Why the driver's last call failed, in a line."""
    e = driver.last_error
    return f"{e.kind}: {e.code}: {e.message}" if e else "the driver gave no reason"


def _on_each_thread(fn, threads: list[_Thread], until_ns: int | None = None) -> list[Exception]:
    """Run fn(t) for every client thread at once, on daemon threads; wait for them (until
    `until_ns`, if given). Returns the exceptions they raised."""
    failures: list[Exception] = []

    def guarded(t: _Thread) -> None:
        try:
            fn(t)
        except Exception as e:      # reported by the caller, in one line
            failures.append(e)

    workers = [threading.Thread(target=guarded, args=(t,), daemon=True) for t in threads]
    for w in workers:
        w.start()
    for w in workers:
        w.join(None if until_ns is None else max(0.0, (until_ns - time.monotonic_ns()) / 1e9))
    return failures
