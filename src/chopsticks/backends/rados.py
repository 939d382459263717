"""The RADOS backend: librados aio on whole objects (write_full, read, stat, remove) through the
compiled loop in _fast/rados_loop.pyx. Worker i works on its own objects `<prefix>.<i>.<n>`,
n = 0 .. objects-1; reads, stats and deletes find them written by a prefill before the run."""
from __future__ import annotations

import errno
import os
import sys
import time
from dataclasses import dataclass
from typing import ClassVar

from chopsticks.backends import verify_map
from chopsticks.backends.block import errno_name, verify_text
from chopsticks.ceph import connect_failure
from chopsticks.errors import ChopsticksError
from chopsticks.extensions import compiled

RADOS_OPS = ("write", "read", "stat", "delete")
PREFILL_CHUNK = 256                 # objects per prefill call: progress is shown between calls
PREFILL_IODEPTH = 64
PROGRESS_EVERY_S = 2.0
# What an earlier run's verify map must share with this run to be gone on from (--verify-against),
# and the option that sets it.
VERIFY_MAP_SETTINGS = {"backend": "the backend", "pool": "--pool", "namespace": "--namespace", "prefix": "--prefix",
                       "workers": "--procs", "objects": "--objects", "size_min": "--size", "size_max": "--size",
                       "seed": "--seed"}


def _rados_loop():
    return compiled("rados_loop", "the librados extension", "librados-dev")


@dataclass(frozen=True)
class RadosTarget:
    conf: str
    client_id: str = "admin"
    keyring: str = ""
    pool: str = "chopsticks"
    namespace: str = ""
    mix: tuple[tuple[str, int], ...] = (("write", 1),)     # (op, weight)
    size_min: int = 4096
    size_max: int = 4096
    objects: int = 1024             # per worker
    access: str = "rand"            # seq | rand
    prefix: str = "chopsticks"
    cleanup: bool = True
    create_pool: bool = False
    connect_timeout_s: int = 10
    verify: bool = False            # check every object read against its stamps and this run's writes
    verify_against: str | None = None   # an earlier run's JSON result: go on from its verify map (implies verify)
    verify_parts: str | None = None # --verify: where workers leave their verify maps (verify_map.py); None: none kept
    name = "rados"
    op_names = RADOS_OPS
    derived_ops: ClassVar[tuple[str, ...]] = ()
    supports_rate: ClassVar[bool] = True    # the loop follows _fast/engine.pxd's schedule

    @property
    def bytes_per_op(self) -> int:
        return (self.size_min + self.size_max) // 2

    def needs_prefill(self) -> bool:
        """Reads, stats or deletes need objects; with --verify-against they are the earlier run's."""
        return any(op != "write" for op, _ in self.mix) and not self.verify_against

    @property
    def keeps_verify_map(self) -> bool:
        """A run with --verify that writes (or prefills) and leaves its objects keeps its verify map
        beside its result."""
        return self.verify and self.verify_parts is not None and not self.cleanup and \
            (self.needs_prefill() or any(op == "write" for op, _ in self.mix))

    def _verify_map_settings(self, plan) -> dict:
        return {"backend": self.name, "pool": self.pool, "namespace": self.namespace, "prefix": self.prefix,
                "workers": plan.workers_total, "objects": self.objects, "size_min": self.size_min,
                "size_max": self.size_max, "seed": plan.seed}

    def keep_beside(self, out, result_paths: list) -> list:
        """(path, writer) of the verify map beside each JSON result, if the run keeps one."""
        if not self.keeps_verify_map:
            return []
        return verify_map.outputs(self.verify_parts, self._verify_map_settings(out.plan), out.plan.procs, result_paths)

    def object_prefix(self, index: int) -> str:
        return f"{self.prefix}.{index}."

    def _connect(self, create_pool: bool = False):
        loop = _rados_loop()
        try:
            return loop.PoolConnection(self.conf, f"client.{self.client_id}", self.keyring, self.pool,
                                       self.namespace, self.connect_timeout_s, create_pool)
        except loop.RadosError as e:
            raise ChopsticksError(self._explain(e)) from None

    def _explain(self, e) -> str:
        failure = connect_failure(e.errno, e.step, self.conf, self.connect_timeout_s, self.client_id, str(e))
        if failure:
            return failure
        if e.step == "pool" and e.errno == errno.ENOENT:
            return f"pool '{self.pool}' does not exist (ceph osd pool create {self.pool}, or pass --create-pool)"
        return str(e)

    def _load(self, conn, index: int, iodepth: int, prefilled: bool, verify: bool = False, verify_from=None):
        return _rados_loop().ObjectLoad(conn, self.object_prefix(index), self.objects, self.size_min,
                                        self.size_max, iodepth, prefilled, verify, verify_from)

    def prepare(self, plan) -> dict:
        """Check the cluster and the pool (creating it if asked); write every worker's objects
        when the mix reads, stats or deletes them (not measured, progress on stderr)."""
        if self.verify_against:
            verify_map.VerifyMap(self.verify_against).check(self._verify_map_settings(plan), VERIFY_MAP_SETTINGS)
        conn = self._connect(create_pool=self.create_pool)
        try:
            if self.keeps_verify_map:
                verify_map.make_parts_dir(self.verify_parts)
            if self.needs_prefill():
                self._prefill(conn, plan)
            return {"fsid": conn.fsid, "pool": self.pool, "namespace": self.namespace}
        finally:
            conn.close()

    def _prefill(self, conn, plan) -> None:
        total = self.objects * plan.procs
        done, t0, shown = 0, time.monotonic(), time.monotonic()
        for local in range(plan.procs):
            index = plan.worker_index(local)
            load = self._load(conn, index, min(PREFILL_IODEPTH, self.objects), prefilled=False)
            for first in range(0, self.objects, PREFILL_CHUNK):
                failed, err = load.prefill(first, min(PREFILL_CHUNK, self.objects - first))
                if failed or err:
                    raise ChopsticksError(f"prefill of pool '{self.pool}': {failed} object write(s) failed, "
                                          f"the first with {errno_name(err)} ({os.strerror(err)})")
                done += min(PREFILL_CHUNK, self.objects - first)
                if time.monotonic() - shown >= PROGRESS_EVERY_S:
                    shown = time.monotonic()
                    print(f"[prefill] {done:,}/{total:,} objects of {self.size_max:,} bytes after "
                          f"{shown - t0:.0f}s", file=sys.stderr, flush=True)

    def open_worker(self, plan, index: int) -> RadosSession:
        conn = self._connect()
        verify_from = verify_map.VerifyMap(self.verify_against).worker(index) if self.verify_against else None
        load = self._load(conn, index, plan.max_inflight, prefilled=self.needs_prefill(), verify=self.verify,
                          verify_from=verify_from)
        loop = _rados_loop()
        mix = [(loop.OP_NAMES.index(op), weight) for op, weight in self.mix]
        return RadosSession(self, conn, load, {"mix": mix, "access": loop.ACCESS_MODES[self.access],
                                               "size_min": self.size_min}, index)

    def error_name(self, code: int) -> str:
        return errno_name(code)

    def settings(self) -> dict:
        return {"backend": self.name, "conf": self.conf, "client_id": self.client_id, "keyring": self.keyring,
                "pool": self.pool, "namespace": self.namespace, "mix": [list(m) for m in self.mix],
                "size_min": self.size_min, "size_max": self.size_max, "objects": self.objects,
                "access": self.access, "prefix": self.prefix, "cleanup": self.cleanup, "verify": self.verify,
                "verify_against": self.verify_against}


class RadosSession:
    def __init__(self, target: RadosTarget, conn, load, load_spec: dict, index: int):
        self.target, self.conn, self.load, self.load_spec, self.index = target, conn, load, load_spec, index

    def run(self, hist, ts, errors, stop, spec: dict) -> dict:
        out = self.load.run(hist, ts, errors, stop, {**spec, **self.load_spec})
        report = self.load.verify_report()
        if report is not None:
            out["report"] = verify_text(report)
        if self.target.keeps_verify_map:
            verify_map.save_part(self.target.verify_parts, self.index, *self.load.verify_map())
        return out

    def close(self) -> None:
        try:
            if self.target.cleanup:
                self.load.cleanup()
        finally:
            self.conn.close()
