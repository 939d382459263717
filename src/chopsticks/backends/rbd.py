"""The RBD backend: librbd aio through the compiled loop in _fast/rbd_loop.pyx."""
from __future__ import annotations

import errno
from dataclasses import dataclass, field

from chopsticks.backends.block import BlockIo, BlockTarget, verify_text
from chopsticks.ceph import connect_failure
from chopsticks.errors import ChopsticksError
from chopsticks.extensions import compiled


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
        return {"fsid": fsid, "image_bytes": sizes}

    def open_worker(self, plan, index: int) -> RbdSession:
        image = self.image_for(index)
        conn = self._connect(image, flush_on_open=self.rbd_cache)
        io_spec = self.io.spec(conn.image_size, index, plan.workers_total, shared_device=not self.image_per_proc)
        return RbdSession(conn, io_spec)

    def settings(self) -> dict:
        return {"backend": self.name, "conf": self.conf, "client_id": self.client_id, "keyring": self.keyring,
                "pool": self.pool, "image": self.image, "image_per_proc": self.image_per_proc,
                "create_size": self.create_size, "rbd_cache": self.rbd_cache, **self.io.__dict__}


class RbdSession:
    def __init__(self, conn, io_spec: dict):
        self.conn, self.io_spec = conn, io_spec

    def run(self, hist, ts, errors, stop, spec: dict) -> dict:
        out = self.conn.run(hist, ts, errors, stop, {**spec, **self.io_spec})
        if "verify" in out:
            out["report"] = verify_text(out["verify"])
        return out

    def close(self) -> None:
        self.conn.close()
