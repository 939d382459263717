"""RBD scenarios: RBDWorkload, its client (read/write on one image through python3-rbd, timed
and recorded) and the small RBD workload config that says which cluster, pool and image."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from chopsticks.backends.block import errno_name
from chopsticks.ceph import import_ceph_module
from chopsticks.config import read_yaml_mapping, require_text
from chopsticks.errors import ChopsticksError
from chopsticks.workloads.base import TimedClient, Workload

RBD_CONFIG_ENV = "RBD_CONFIG_PATH"
CONNECT_TIMEOUT_S = 10
READ, WRITE = range(2)


@dataclass(frozen=True)
class RbdWorkloadConfig:
    """Which image RBD scenarios use. YAML keys: conf, keyring, client_id, pool, image; each one
    missing is taken from the running `chopsticks lab`."""

    conf: str
    keyring: str = ""                   # "" = the one ceph.conf names
    client_id: str = "admin"
    pool: str = "rbd"
    image: str = "test"

    def redacted(self) -> dict:
        return dataclasses.asdict(self)     # paths and names only, no secret


def load_rbd_config(path: str | Path | None) -> RbdWorkloadConfig:
    """The RBD workload config in `path` (None: $RBD_CONFIG_PATH, else the running lab's)."""
    from chopsticks.lab import find_running

    path = path or os.environ.get(RBD_CONFIG_ENV)
    lab = find_running()
    values = {"conf": str(lab.conf), "keyring": str(lab.keyring), "client_id": lab.client_id,
              "pool": lab.pool, "image": lab.image} if lab else {}
    if path is None and lab is None:
        raise ChopsticksError(f"no RBD workload config: pass --workload-config, set {RBD_CONFIG_ENV}, "
                              "or start a cluster with `chopsticks lab up`")
    if path is not None:
        path = Path(path)
        document = read_yaml_mapping(path)
        known = [f.name for f in dataclasses.fields(RbdWorkloadConfig)]
        for key, value in document.items():
            if key not in known:
                raise ChopsticksError(f"{path}: unknown key {key!r}; allowed keys: {', '.join(known)}")
            require_text(path, key, value)
        values.update(document)
        if "conf" not in values:
            raise ChopsticksError(f"{path}: missing key 'conf' (and no running `chopsticks lab` to take it from)")
    return RbdWorkloadConfig(**values)


class RbdConnection:
    """One worker's open image (cluster connection, pool, image), shared by its users: librbd
    image handles take concurrent I/O, and python3-rbd releases the GIL around each call."""

    def __init__(self, config: RbdWorkloadConfig):
        self.config = config
        self.rados, self.rbd = import_ceph_module("rados"), import_ceph_module("rbd")
        if not Path(config.conf).is_file():
            raise ChopsticksError(f"ceph.conf {config.conf} does not exist")
        self.cluster = self.ioctx = self.image = None
        step = "connect"
        try:
            options = {"keyring": config.keyring} if config.keyring else {}
            self.cluster = self.rados.Rados(conffile=config.conf, name=f"client.{config.client_id}", conf=options)
            self.cluster.connect(timeout=CONNECT_TIMEOUT_S)
            step = "pool"
            self.ioctx = self.cluster.open_ioctx(config.pool)
            step = "image"
            self.image = self.rbd.Image(self.ioctx, config.image)
            self.size = self.image.size()
        except (self.rados.Error, self.rbd.Error) as e:
            self.close()
            raise ChopsticksError(self._explain(step, e)) from None

    def _explain(self, step: str, e: Exception) -> str:
        c = self.config
        if step == "connect":
            return f"cannot connect to the Ceph cluster of {c.conf} as client.{c.client_id}: {e}"
        if step == "pool" and isinstance(e, self.rados.ObjectNotFound):
            return f"pool '{c.pool}' does not exist (ceph osd pool create {c.pool} && rbd pool init {c.pool})"
        if step == "image" and isinstance(e, self.rbd.ImageNotFound):
            return f"image '{c.pool}/{c.image}' does not exist (rbd create --size 1G {c.pool}/{c.image})"
        return f"cannot open {c.pool}/{c.image}: {e}"

    def close(self) -> None:
        for handle in (self.image, self.ioctx):
            if handle is not None:
                handle.close()
        if self.cluster is not None:
            self.cluster.shutdown()


class RbdClient(TimedClient):
    """read/write on the worker's image. A failed call returns None/False and never raises; its
    errno name (EIO, EINVAL, ...) is recorded on the op."""

    op_names = ("read", "write")

    def __init__(self, conn: RbdConnection, recorder):
        super().__init__(recorder)
        self.conn, self.config, self.size = conn, conn.config, conn.size

    @staticmethod
    def prepare(config: RbdWorkloadConfig) -> dict:
        """Open the image once in the parent: a one-line error if it cannot be used."""
        conn = RbdConnection(config)
        try:
            return {"fsid": conn.cluster.get_fsid(), "pool": config.pool, "image": config.image,
                    "image_bytes": conn.size}
        finally:
            conn.close()

    @staticmethod
    def connect(config: RbdWorkloadConfig) -> RbdConnection:
        return RbdConnection(config)

    @staticmethod
    def disconnect(conn: RbdConnection) -> None:
        conn.close()

    @staticmethod
    def error_name(code: int) -> str:
        return errno_name(code)

    def read(self, offset: int, length: int) -> bytes | None:
        """`length` bytes at `offset` (fewer at the end of the image), or None on an error."""
        call = self._begin(READ)
        try:
            data = self.conn.image.read(offset, length)
        except self.conn.rbd.Error as e:
            self._end(call, False, 0, getattr(e, "errno", 0) or 0)
            return None
        self._end(call, True, len(data), 0)
        return data

    def write(self, offset: int, data: bytes) -> bool:
        """Write `data` at `offset`; False on an error."""
        call = self._begin(WRITE)
        try:
            written = self.conn.image.write(data, offset)
        except self.conn.rbd.Error as e:
            self._end(call, False, 0, getattr(e, "errno", 0) or 0)
            return False
        self._end(call, True, written, 0)
        return True


class RBDWorkload(Workload):
    """Base of RBD scenarios: `self.client` (read(offset, length), write(offset, data), `size` of
    the image in bytes) and `self.config` (the RBD workload config)."""

    client_class = RbdClient
    abstract = True

    def __init__(self, client: RbdClient, index: int, seed: int, payloads):
        super().__init__(client, index, seed, payloads)
        self.config = client.config
