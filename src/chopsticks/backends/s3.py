"""The S3 backend for Python drivers (s5cmd, boto3, mock, custom): each worker process runs
`concurrency` threads, each with its own driver, timing every call and recording it into the
worker's shared-memory rows. This path makes one Python call per op, by design: the drivers are
Python. Payloads are built once per worker, never per op.

A call stuck past --op-timeout (a gateway that stopped answering) does not hold the run: see
backends/threads.py for how the end is bounded. Set-up (bucket check, prefill) and cleanup report
a failure in one line of their own, not through the drivers' per-error log lines.

--verify: every PUT body is a stamped copy of the payload (_fast/object_verifier.pyx ObjectVerifier: the
object's index and the worker's write seq in every 4 KiB block), every GET body is checked against
its stamps and the object's last completed write; stamping and checking stay outside the op's
timing, as in the compiled loops. A --verify run that writes and keeps its objects keeps a verify
map (verify_map.py: per worker its key base, each object's thread, last write and size, its write
count); --verify-against goes on from one: the earlier run's objects, record and write numbers."""
from __future__ import annotations

import dataclasses
import itertools
import logging
import random
import secrets
import threading
import time
from collections import deque
from typing import Callable, ClassVar
from dataclasses import dataclass

import numpy as np

from chopsticks._fast.histogram import SlotRecorder
from chopsticks._fast.object_verifier import ObjectVerifier
from chopsticks._fast.payload import STAMP_LAYOUT, make_payload
from chopsticks._fast.schedule import Schedule
from chopsticks.backends import verify_map
from chopsticks.backends.block import seq_text, verify_text
from chopsticks.backends.threads import CLOSE_GRACE_NS, ThreadedCalls
from chopsticks.config import S3Config
from chopsticks.drivers.s3.base import BaseS3Driver, error_code, error_code_name, listing_ok
from chopsticks.drivers.s3.registry import create_driver, unknown_driver_config
from chopsticks.engine.contract import ERR_VERIFY
from chopsticks.errors import ChopsticksError

S3_OPS = ("put", "get", "delete", "head", "list")
PAYLOAD_VARIANTS = 16               # distinct sizes prepared for a size range
FAILED_KEYS_KEPT = 4                # keys kept to name --verify's first failures (verify.pxd VERIFY_NOTES)
# What an earlier run's verify map must share with this run to be gone on from (--verify-against),
# and the option that sets it.
VERIFY_MAP_SETTINGS = {"backend": "the backend", "keys": "--driver (native or a Python one: they name keys apart)",
                       "endpoint": "the endpoint (--workload-config)",
                       "bucket": "the bucket (--workload-config)", "prefix": "the key prefix", "workers": "--procs",
                       "threads": "--concurrency", "size_min": "--size", "size_max": "--size", "seed": "--seed"}

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
    verify_against: str | None = None   # an earlier run's JSON result: go on from its verify map and objects (implies verify)
    verify_parts: str | None = None     # --verify: where workers leave their verify maps (verify_map.py); None: none kept
    name = "s3"
    key_scheme: ClassVar[str] = "python drivers"    # how a worker names its objects (its verify map says)
    op_names = S3_OPS
    derived_ops: ClassVar[tuple[str, ...]] = ()
    supports_rate: ClassVar[bool] = True    # the threads follow _fast/schedule.pyx's schedule

    @property
    def bytes_per_op(self) -> int:
        return (self.size_min + self.size_max) // 2

    def needs_prefill(self) -> bool:
        """Reads, heads or deletes need objects; with --verify-against they are the earlier run's."""
        return any(op in ("get", "head", "delete") for op, _ in self.mix) and not self.verify_against

    @property
    def keeps_verify_map(self) -> bool:
        """A run with --verify that writes, deletes or prefills, and leaves its objects, keeps its
        verify map beside its result."""
        return self.verify and self.verify_parts is not None and not self.cleanup and \
            (self.needs_prefill() or any(op in ("put", "delete") for op, _ in self.mix))

    def _verify_map_settings(self, plan) -> dict:
        return {"backend": self.name, "keys": self.key_scheme, "endpoint": self.config.endpoint,
                "bucket": self.config.bucket, "prefix": self.prefix, "workers": plan.workers_total, "threads": plan.max_inflight,
                "size_min": self.size_min, "size_max": self.size_max, "seed": plan.seed}

    def keep_beside(self, out, result_paths: list) -> list:
        """(path, writer) of the verify map beside each JSON result, if the run keeps one."""
        if not self.keeps_verify_map:
            return []
        return verify_map.outputs(self.verify_parts, self._verify_map_settings(out.plan), out.plan.procs, result_paths)

    def prepare(self, plan) -> dict:
        """Check the endpoint, the keys and the bucket (created when missing) before any worker;
        warn once about driver_config keys the driver does not read; under --verify, that --size
        can be stamped and that the driver returns GET bodies; with --verify-against, that the
        earlier run's map describes this run's keys."""
        if self.verify_against:
            verify_map.VerifyMap(self.verify_against).check(self._verify_map_settings(plan), VERIFY_MAP_SETTINGS)
        warning = unknown_driver_config(self.config)
        if warning:
            log.warning("%s", warning)
        ensure_bucket(self.config)
        if self.verify:
            smallest, largest = STAMP_LAYOUT["bytes"], 1 << STAMP_LAYOUT["object_shift"]
            if not smallest <= self.size_min <= self.size_max < largest:
                raise ChopsticksError(f"--verify stamps objects of {smallest} bytes (the stamp) to "
                                      f"{largest >> 30} GiB; --size is {self.size_min:,}-{self.size_max:,} bytes")
            check_bodies_returned(self.config, self.prefix)
        if self.keeps_verify_map:
            verify_map.make_parts_dir(self.verify_parts)
        return {"endpoint": self.config.endpoint, "bucket": self.config.bucket, "driver": self.config.driver}

    def open_worker(self, plan, index: int) -> S3Session:
        return S3Session(self, plan, index)

    def error_name(self, code: int) -> str:
        return error_code_name(code)

    def settings(self) -> dict:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                  if f.name not in ("config", "verify_parts")}
        return {"backend": self.name, "config": self.config.redacted(), **fields}


def key_base(prefix: str, index: int) -> str:
    """Where worker `index` names the objects it creates: the run's second for the eye, and a random
    tag, so that two runs starting in the same second on one bucket never share a key."""
    return f"{prefix}/{int(time.time())}-{secrets.token_hex(3)}-w{index}"


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


def check_bodies_returned(config: S3Config, prefix: str) -> None:
    """--verify reads what GETs return: a driver whose download() does not hand back the bytes it
    stored (a 0.x custom driver may return a placeholder) is refused in one line before the run.
    One small object is written, read and deleted; a call that fails proves nothing either way
    (the run will count such failures), only a successful GET of other bytes does."""
    driver = create_driver(config)
    driver.log_errors = False
    data = make_payload(4096, seed=time.time_ns())
    key = f"{prefix}/verify-probe-{time.time_ns()}"
    try:
        if not driver.upload(key, data):
            return
        body = driver.download(key)
        driver.delete(key)
    finally:
        driver.close()
    if body is not None and not (isinstance(body, (bytes, bytearray, memoryview)) and body == data):
        got = f"{len(body):,} bytes" if isinstance(body, (bytes, bytearray, memoryview)) else type(body).__name__
        raise ChopsticksError(f"--verify checks GET bodies, but driver {config.driver!r} does not return them: "
                              f"its download() gave {got} for an object of 4,096 bytes it had just uploaded; "
                              f"run without --verify or use a driver that returns the bytes (boto3, s5cmd, native)")


def verify_text_by_key(report: dict, key_and_byte: Callable[[int], tuple[str, int]]) -> str:
    """A worker's --verify result in a line (backends/block.py's), its first failures named by
    object key and byte: key_and_byte(a failure's stamped offset) → (key, byte in the object)."""
    text = verify_text({**report, "first_failures": []})
    for f in report["first_failures"]:
        key, byte = key_and_byte(f["offset"])
        text += (f"; {f['kind']} at byte {byte:,} of {key} (expected write {seq_text(f['expected_seq'])}, "
                 f"found {seq_text(f['found_seq'])})")
    return text


def _payloads(target: S3Target, seed: int) -> list[bytes]:
    """One random buffer, sliced once into the sizes this worker will upload."""
    buf = make_payload(target.size_max, "random", seed=seed)
    if target.size_min == target.size_max:
        return [buf]
    rng = random.Random(seed)
    return [buf[: rng.randint(target.size_min, target.size_max)] for _ in range(PAYLOAD_VARIANTS)]


class _Thread:
    """One client thread: its own driver, its own keys, its own RNG. An object is known by its
    serial, unique in the worker (the index --verify stamps); its key is prefix/serial."""

    def __init__(self, target: S3Target, prefix: str, seed: int, body: bytearray | None):
        self.driver = create_driver(target.config)
        self.prefix, self.rng = prefix, random.Random(seed)
        self.keys: list[int] = []           # serials of the objects to read, head or delete
        self.created: set[int] = set()      # serials of the objects to clean up
        self.body = body                    # --verify: this thread's copy of the payload, stamped per PUT
        self.rewrite: deque[int] = deque()  # --verify-against: the earlier run's objects its PUTs rewrite first

    def key(self, serial: int) -> str:
        return f"{self.prefix}/{serial:09d}"


class S3Session:
    def __init__(self, target: S3Target, plan, index: int):
        self.target, self.index = target, index
        self.op_timeout_ns = int(plan.op_timeout_s * 1e9)
        ensure_bucket(target.config)
        self.payloads = _payloads(target, plan.worker_seed(index))
        earlier = verify_map.VerifyMap(target.verify_against) if target.verify_against else None
        extra = earlier.extra(index) if earlier is not None else {}
        self.base = str(extra["base"]) if earlier is not None else key_base(target.prefix, index)
        self.serials = itertools.count(1)
        self.verifier = ObjectVerifier(index, target.objects * plan.max_inflight) if target.verify else None
        self.failed_keys: dict[int, str] = {}       # --verify: serial → key of the first objects that failed
        longest = max(self.payloads, key=len)
        self.threads = [_Thread(target, f"{self.base}-t{t}", plan.worker_seed(index, t),
                                bytearray(longest) if target.verify else None)
                        for t in range(plan.max_inflight)]
        self.calls: ThreadedCalls | None = None
        if earlier is not None:
            self._go_on_from(*earlier.worker(index), extra)
        if target.needs_prefill():
            failures = _on_each_thread(self._prefill, self.threads)
            if failures:
                raise failures[0]

    def _prefill(self, t: _Thread) -> None:
        """Upload this thread's objects before the start; the first failure stops the worker
        (a run whose objects could not be written would measure nothing meaningful)."""
        t.driver.log_errors = False
        for _ in range(self.target.objects):
            if not self._put(t, self._new_object(t, self.payloads[0])):
                raise ChopsticksError(f"cannot write the objects to read before the start (--objects) to bucket "
                                      f"{self.target.config.bucket!r}: {_reason(t.driver)}")
        t.driver.log_errors = True

    def _go_on_from(self, last_seq: np.ndarray, writes: int, extra: dict) -> None:
        """--verify-against: the verifier starts from the earlier worker's record and write count,
        each thread from the objects its namesake left (its keys to read, head, delete, and rewrite
        once, in order, before its PUTs make new ones); new serials follow the earlier ones."""
        self.verifier.start_from(last_seq, extra["sizes"], writes)
        self.serials = itertools.count(len(last_seq))
        for serial in np.flatnonzero(last_seq).tolist():
            t = self.threads[extra["threads"][serial]]
            t.keys.append(serial)
            t.rewrite.append(serial)

    def _save_verify_map(self) -> None:
        """Leave this worker's verify map for the parent: every object a thread holds (its last
        write, size, thread) and the key base; an object dropped without a completed write or
        delete (a failed DELETE) is left out, its state unknown."""
        count = next(self.serials)          # serials drawn so far: 1 .. count - 1
        last_seq, sizes = (np.frombuffer(b, dtype=np.uint64) for b in self.verifier.record(count))
        threads = np.full(count, -1, dtype=np.int32)
        for i, t in enumerate(self.threads):
            threads[list(t.keys)] = i
        verify_map.save_part(self.target.verify_parts, self.index, np.where(threads >= 0, last_seq, 0).tobytes(),
                             self.verifier.writes, {"sizes": sizes, "threads": threads, "base": np.array(self.base)})

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
        out = {"submitted": submitted[0], "completed": calls.recorded, "inflight_left": left, "fatal_errno": 0}
        if self.verifier is not None:
            out["report"] = self._verify_text()
        if self.target.keeps_verify_map:
            self._save_verify_map()
        return out

    def _next_op(self, t: _Thread, op: str) -> str | None:
        """The op to do: one that needs an object becomes a put while the thread has none;
        None when there is nothing left to do (a delete-only run with every object deleted)."""
        if op in ("get", "head", "delete") and not t.keys:
            if op == "delete" and len(self.target.mix) == 1:
                return None
            return "put"
        return op

    def _one(self, t: _Thread, op: str, calls: ThreadedCalls, intended_ns: int | None = None) -> None:
        """Do one op and record it (timed from intended_ns in rate mode); a PUT's body is stamped
        before its clock starts, a GET's checked after it stops."""
        new = self._new_object(t, self.payloads[t.rng.randrange(len(self.payloads))]) if op == "put" else None
        call = calls.begin(S3_OPS.index(op), intended_ns)
        try:
            code, nbytes, ended_ns = self._request(t, op, new)
        except BaseException:       # a driver that raises breaks the API: counted as 'other', its thread ends
            calls.error(call, error_code(None))
            raise
        if code:
            calls.error(call, code, ended_ns)
        else:
            calls.ok(call, nbytes, ended_ns)

    def _request(self, t: _Thread, op: str, new: tuple[int, bytes, int] | None) -> tuple[int, int, int | None]:
        """(0 or the error code, bytes moved, when the request ended if not now) of one request of
        `op` on the thread's driver; `new`: a PUT's object (_new_object)."""
        d = t.driver
        if op == "put":
            ok, nbytes = self._put(t, new), len(new[1])
        elif op == "get":
            return self._get(t)
        elif op == "head":
            ok, nbytes = d.head_object(t.key(t.keys[t.rng.randrange(len(t.keys))])) is not None, 0
        elif op == "delete":
            serial = t.keys.pop(t.rng.randrange(len(t.keys)))
            ok, nbytes = d.delete(t.key(serial)), 0
            t.created.discard(serial)
            if self.verifier is not None:       # done or not, the object is no longer the run's to read
                self.verifier.wrote(serial, 0)
        else:
            before = d.last_error
            keys = d.list_objects(prefix=t.prefix, max_keys=1000)
            ok, nbytes = listing_ok(keys, before, d.last_error), 0
        return (0 if ok else error_code(d.last_error)), nbytes, None

    def _get(self, t: _Thread) -> tuple[int, int, int | None]:
        """_request's GET: under --verify its body is checked once the request has ended."""
        serial = t.keys[t.rng.randrange(len(t.keys))]
        want = self.verifier.expected(serial) if self.verifier is not None else 0
        data = t.driver.download(t.key(serial))
        if data is None:
            return error_code(t.driver.last_error), 0, None
        if self.verifier is None:
            return 0, len(data), None
        ended_ns = time.monotonic_ns()
        if self.verifier.check(data, serial, want):
            return 0, len(data), ended_ns
        self._verify_failed(t.key(serial), serial)
        return ERR_VERIFY, len(data), ended_ns

    def _new_object(self, t: _Thread, payload: bytes) -> tuple[int, bytes, int, bool]:
        """(serial, data, seq, fresh) of the next object to PUT: the payload itself, or under
        --verify the thread's copy stamped for this object with the worker's next write seq
        (handed to the driver as bytes of its own, since a driver may keep what it is given).
        Under --verify-against the thread's earlier objects come first (not fresh)."""
        serial, fresh = self._next_serial(t)
        if self.verifier is None:
            return serial, payload, 0, fresh
        view = memoryview(t.body)[:len(payload)]
        seq = self.verifier.stamp(view, serial)
        return serial, bytes(view), seq, fresh

    def _next_serial(self, t: _Thread) -> tuple[int, bool]:
        """(serial, fresh) of the next object to PUT: the thread's next earlier object that the run
        has not deleted (--verify-against), else a new one."""
        while t.rewrite:
            serial = t.rewrite.popleft()
            if self.verifier.expected(serial):
                return serial, False
        return next(self.serials), True

    def _put(self, t: _Thread, new: tuple[int, bytes, int, bool]) -> bool:
        """PUT `new` (_new_object); once written, a fresh object is the thread's to read and clean up."""
        serial, data, seq, fresh = new
        if not t.driver.upload(t.key(serial), data):
            return False
        if fresh:
            t.keys.append(serial)
            t.created.add(serial)
        if seq:
            self.verifier.wrote(serial, seq, len(data))
        return True

    def _verify_failed(self, key: str, serial: int) -> None:
        """Keep the key to name it in the result; say once per worker that reads fail their check."""
        if not self.failed_keys:
            log.warning("worker %d: --verify: GET %s did not return what this run wrote there (the first "
                        "failures are described at the end; all are counted as 'verify' errors)", self.index, key)
        if len(self.failed_keys) < FAILED_KEYS_KEPT:
            self.failed_keys.setdefault(serial, key)

    def _verify_text(self) -> str:
        def key_and_byte(offset: int) -> tuple[str, int]:
            serial, byte = divmod(offset, 1 << STAMP_LAYOUT["object_shift"])
            return self.failed_keys.get(serial, f"object #{serial}"), byte

        return verify_text_by_key(self.verifier.report(), key_and_byte)

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
            for serial in sorted(t.created):
                if time.monotonic_ns() >= close_by_ns:
                    return
                if t.driver.delete(t.key(serial)):
                    t.created.discard(serial)
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
