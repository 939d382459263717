"""Import Debian's python3-rados / python3-rbd without putting all of dist-packages on sys.path.

Debian ships these bindings only for its own Python, in /usr/lib/python3/dist-packages. Adding
that whole directory to a venv would shadow the venv's numpy, yaml, ... so we add it only for
the duration of these two imports.
"""
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
