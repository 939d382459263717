"""The S3 backend for Python drivers (s5cmd, boto3, mock, custom): each worker process runs
`concurrency` threads, each with its own driver, timing every call and recording it into the
worker's shared-memory rows. This path makes one Python call per op, by design: the drivers are
Python. Payloads are built once per worker, never per op."""
from __future__ import annotations

import dataclasses
import random
import threading
import time
from typing import ClassVar
from dataclasses import dataclass

from chopsticks._fast.histogram import SlotRecorder
from chopsticks._fast.payload import make_payload
from chopsticks.config import S3Config
from chopsticks.drivers.s3.base import error_code, error_code_name, listing_ok
from chopsticks.drivers.s3.registry import create_driver
from chopsticks.engine.contract import ERR_STALLED

S3_OPS = ("put", "get", "delete", "head", "list")
PAYLOAD_VARIANTS = 16               # distinct sizes prepared for a size range


@dataclass(frozen=True)
class S3Target:
    config: S3Config
    mix: tuple[tuple[str, int], ...]    # (op, weight); one op with weight 1 for a single-op run
    size_min: int = 4096
    size_max: int = 4096
    objects: int = 100                  # objects each thread writes before the start (for get/head/delete)
    prefix: str = "chopsticks-bench"
    cleanup: bool = True
    name = "s3"
    op_names = S3_OPS
    derived_ops: ClassVar[tuple[str, ...]] = ()

    @property
    def bytes_per_op(self) -> int:
        return (self.size_min + self.size_max) // 2

    def needs_prefill(self) -> bool:
        return any(op in ("get", "head", "delete") for op, _ in self.mix)

    def prepare(self, plan) -> dict:
        """Check the endpoint, the keys and the bucket (created when missing) before any worker."""
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
    per worker, since mock buckets live in their process."""
    driver = create_driver(config)
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
        self.target = target
        ensure_bucket(target.config)
        self.payloads = _payloads(target, plan.seed * 7919 + index)
        base = f"{target.prefix}/{int(time.time())}-w{index}"
        self.threads = [_Thread(target, f"{base}-t{t}", plan.seed * 1_000_003 + index * 1000 + t)
                        for t in range(plan.iodepth)]
        if target.needs_prefill():
            self._on_each_thread(self._prefill)

    def _on_each_thread(self, fn) -> None:
        workers = [threading.Thread(target=fn, args=(t,)) for t in self.threads]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    def _prefill(self, t: _Thread) -> None:
        for _ in range(self.target.objects):
            key = t.new_key()
            if t.driver.upload(key, self.payloads[0]):
                t.keys.append(key)
                t.created.add(key)

    def run(self, hist, ts, errors, stop, spec: dict) -> dict:
        rec = SlotRecorder(hist, ts, errors, spec)
        ops, weights = zip(*self.target.mix)
        budget = [spec["ops_limit"]]
        lock = threading.Lock()
        counts = {"submitted": 0}

        def loop(t: _Thread) -> None:
            while not stop[0] and time.monotonic_ns() < spec["deadline_ns"]:
                with lock:
                    if budget[0] <= 0:
                        return
                    budget[0] -= 1
                    counts["submitted"] += 1
                op = t.rng.choices(ops, weights)[0]
                if not self._one(t, op, rec):
                    return

        self._on_each_thread(loop)
        return {"submitted": counts["submitted"], "completed": counts["submitted"], "inflight_left": 0,
                "fatal_errno": 0}

    def _one(self, t: _Thread, op: str, rec: SlotRecorder) -> bool:
        """Do one op and record it; False when the thread has nothing left to do (delete-only)."""
        d = t.driver
        if op in ("get", "head", "delete") and not t.keys:
            if op == "delete" and len(self.target.mix) == 1:
                return False
            op = "put"
        code = S3_OPS.index(op)
        t0 = time.monotonic_ns()
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
        t1 = time.monotonic_ns()
        if ok:
            rec.ok(code, t1 - t0, nbytes, t1)
        else:
            rec.error(code, error_code(d.last_error), t1)
        return True

    def close(self) -> None:
        if self.target.cleanup:
            self._on_each_thread(lambda t: [t.driver.delete(k) for k in sorted(t.created)])
        for t in self.threads:
            t.driver.close()
