"""The files a Target names that a host does not have: ceph.conf, the keyring, the scenario file.
Their contents travel with the host's task and are written to a private directory there, removed
after the run; the Target is re-pointed at the copies."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

SHIPPED_FIELDS = ("conf", "keyring", "scenario_file")


def _shipped_paths(obj) -> list[str]:
    paths = []
    if not dataclasses.is_dataclass(obj):
        return paths
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.name in SHIPPED_FIELDS and isinstance(value, str) and value:
            paths.append(value)
        elif dataclasses.is_dataclass(value):
            paths.extend(_shipped_paths(value))
    return paths


def collect(target) -> dict[str, bytes]:
    """{path on this machine: contents} of every file the target (or a dataclass inside it) names."""
    return {p: Path(p).read_bytes() for p in _shipped_paths(target) if Path(p).is_file()}


def write_private(files: dict[str, bytes], directory: str) -> dict[str, str]:
    """Write each file under `directory` (mode 0600, keeping its name); {client path: host path}."""
    moved = {}
    for n, (path, data) in enumerate(sorted(files.items())):
        sub = os.path.join(directory, str(n))
        os.mkdir(sub, 0o700)
        local = os.path.join(sub, os.path.basename(path))
        fd = os.open(local, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        moved[path] = local
    return moved


def relocate(obj, moved: dict[str, str]):
    """A copy of obj (a frozen dataclass) whose shipped fields point at the host's copies."""
    if not dataclasses.is_dataclass(obj) or not moved:
        return obj
    changes = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.name in SHIPPED_FIELDS and isinstance(value, str) and value in moved:
            changes[f.name] = moved[value]
        elif dataclasses.is_dataclass(value):
            changes[f.name] = relocate(value, moved)
    return dataclasses.replace(obj, **changes)
