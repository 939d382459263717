"""The RBD backend: librbd aio through the compiled loop in _fast/rbd_loop.pyx."""
from __future__ import annotations

import errno
from dataclasses import dataclass, field

from chopsticks.backends import verify_map
from chopsticks.backends.block import BlockIo, BlockTarget, verify_text
from chopsticks.ceph import connect_failure
from chopsticks.errors import ChopsticksError
from chopsticks.extensions import compiled


# What an earlier run's verify map must share with this run to be gone on from (--verify-against),
# and the option that sets it.
VERIFY_MAP_SETTINGS = {"backend": "the backend", "pool": "--pool", "image": "--image",
                       "image_per_proc": "--image-per-proc", "workers": "--procs", "bs": "--bs",
                       "spans": "the range (--offset, --span, and --rw: sequential workers each take a slice)",
                       "seed": "--seed"}


def _rbd_loop():
    return compiled("rbd_loop", "the librbd extension", "librbd-dev librados-dev")


@dataclass(frozen=True)
class RbdTarget(BlockTarget):
    conf: str
    client_id: str = "admin"
    keyring: str = ""
    pool: str = "rbd"
    image: str = "test"
    io: BlockIo = field(default_factory=BlockIo)
    image_per_proc: bool = False    # worker i uses image '<image>-<i>'
    create_size: int | None = None  # create missing images of this size
    connect_timeout_s: int = 10
    rbd_cache: bool = False         # flush once after open, as fio/rbd bench do, enabling librbd's cache
    verify_parts: str | None = None # --verify: where workers leave their verify maps (verify_map.py); None: none kept
    name = "rbd"

    def image_for(self, index: int) -> str:
        return f"{self.image}-{index}" if self.image_per_proc else self.image

    def _connect(self, image: str, create: bool = False, flush_on_open: bool = False):
        rbd_loop = _rbd_loop()
        try:
            return rbd_loop.Connection(self.conf, f"client.{self.client_id}", self.keyring, self.pool,
                                       image, self.connect_timeout_s, create, self.create_size or 0,
                                       flush_on_open)
        except rbd_loop.RbdError as e:
            raise ChopsticksError(self._explain(e, image)) from None

    def _explain(self, e, image: str) -> str:
        failure = connect_failure(e.errno, e.step, self.conf, self.connect_timeout_s, self.client_id, str(e))
        if failure:
            return failure
        if e.step == "pool" and e.errno == errno.ENOENT:
            return f"pool '{self.pool}' does not exist (ceph osd pool create {self.pool} && rbd pool init {self.pool})"
        if e.step == "open" and e.errno == errno.ENOENT:
            return (f"image '{self.pool}/{image}' does not exist (rbd create --size 1G {self.pool}/{image}, "
                    f"or pass --create SIZE)")
        return str(e)

    def prepare(self, plan) -> dict:
        """Open every image once (creating it if asked), check that the I/O fits, note the fsid."""
        images = sorted({self.image_for(plan.worker_index(i)) for i in range(plan.procs)})
        sizes = {}
        fsid = None
        for image in images:
            conn = self._connect(image, create=self.create_size is not None)
            try:
                fsid, sizes[image] = conn.fsid, conn.image_size
                self.io.check(conn.image_size, f"image '{self.pool}/{image}'")
            finally:
                conn.close()
        self.io.check_buffers(plan.procs, plan.max_inflight)
        if self.io.verify_against:
            verify_map.VerifyMap(self.io.verify_against).check(self._verify_map_settings(plan, sizes),
                                                               VERIFY_MAP_SETTINGS)
        if self.keeps_verify_map:
            verify_map.make_parts_dir(self.verify_parts)
        return {"fsid": fsid, "image_bytes": sizes}

    @property
    def keeps_verify_map(self) -> bool:
        """A run with --verify that writes keeps its verify map beside its result."""
        return self.io.verify and self.verify_parts is not None and self.io.rw not in ("read", "randread")

    def _verify_map_settings(self, plan, image_bytes: dict) -> dict:
        spans = []
        for local in range(plan.procs):
            index = plan.worker_index(local)
            spec = self.io.spec(image_bytes[self.image_for(index)], index, plan.workers_total,
                                shared_device=not self.image_per_proc)
            spans.append([spec["span_start"], spec["span_bytes"]])
        return {"backend": self.name, "pool": self.pool, "image": self.image, "image_per_proc": self.image_per_proc,
                "workers": plan.workers_total, "bs": self.io.bs, "spans": spans, "seed": plan.seed}

    def keep_beside(self, out, result_paths: list) -> list:
        """(path, writer) of the verify map beside each JSON result, if the run keeps one."""
        if not self.keeps_verify_map:
            return []
        settings = self._verify_map_settings(out.plan, out.info["image_bytes"])
        return verify_map.outputs(self.verify_parts, settings, out.plan.procs, result_paths)

    def open_worker(self, plan, index: int) -> RbdSession:
        image = self.image_for(index)
        conn = self._connect(image, flush_on_open=self.rbd_cache)
        io_spec = self.io.spec(conn.image_size, index, plan.workers_total, shared_device=not self.image_per_proc)
        if self.io.verify_against:
            io_spec["verify_from"] = verify_map.VerifyMap(self.io.verify_against).worker(index)
        return RbdSession(conn, io_spec, self.verify_parts if self.keeps_verify_map else None, index)

    def settings(self) -> dict:
        return {"backend": self.name, "conf": self.conf, "client_id": self.client_id, "keyring": self.keyring,
                "pool": self.pool, "image": self.image, "image_per_proc": self.image_per_proc,
                "create_size": self.create_size, "rbd_cache": self.rbd_cache, **self.io.__dict__}


class RbdSession:
    def __init__(self, conn, io_spec: dict, verify_parts: str | None, index: int):
        self.conn, self.io_spec, self.verify_parts, self.index = conn, io_spec, verify_parts, index

    def run(self, hist, ts, errors, stop, spec: dict) -> dict:
        out = self.conn.run(hist, ts, errors, stop, {**spec, **self.io_spec})
        if "verify" in out:
            out["report"] = verify_text(out["verify"])
        if self.verify_parts:
            verify_map.save_part(self.verify_parts, self.index, out.pop("verify_map"), out["writes"])
        return out

    def close(self) -> None:
        self.conn.close()
