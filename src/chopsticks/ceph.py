"""Ceph client helpers shared by the backends and the cluster watch.

import_ceph_module: Debian's python3-rados / python3-rbd without putting all of dist-packages on
sys.path. Debian ships these bindings only for its own Python, in /usr/lib/python3/dist-packages.
Adding that whole directory to a venv would shadow the venv's numpy, yaml, ... so we add it only
for the duration of these two imports.

connect_failure: what a failed librados connection means, in the one line a user reads.
"""
import errno
import importlib
import sys

from chopsticks.errors import ChopsticksError

DEBIAN_DIST = "/usr/lib/python3/dist-packages"
APT_HINT = "apt-get install -y python3-rados python3-rbd"


def import_ceph_module(name: str):
    """Return the `rados` or `rbd` module, or raise ChopsticksError naming the package to install."""
    try:
        return importlib.import_module(name)
    except ImportError:
        pass
    sys.path.append(DEBIAN_DIST)
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise ChopsticksError(f"python module '{name}' is not available ({e}); install it: {APT_HINT}") from None
    finally:
        sys.path.remove(DEBIAN_DIST)


def connect_failure(err: int, step: str, conf: str, timeout_s: int, client_id: str, detail: str) -> str | None:
    """The one-line error for a librados connection that failed at `step` with errno `err`
    (unreachable cluster, refused key), or None when it is something else."""
    if step == "connect" and err in (errno.ETIMEDOUT, errno.ENOENT, errno.ECONNREFUSED):
        return (f"cannot reach the Ceph cluster of {conf} within {timeout_s}s ({detail}); is it running? "
                "(`chopsticks lab up` starts one)")
    if step == "connect" and err in (errno.EACCES, errno.EPERM, errno.EINVAL):
        return f"the cluster refused client.{client_id}: check --id and --keyring ({detail})"
    return None
