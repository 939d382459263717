"""The verify map a `bench rbd|rados --verify` run that writes keeps beside its JSON result
(`r.json` → `r.verify.npz`), for a later `--verify-against r.json`: per worker the seq of its last
completed write under each key (a bs-block of its span, an object; 0: none) and its write count,
with the settings a later run must share to read those keys the same way. A backend may keep more
arrays per worker beside them (its "extra": bench s3 keeps each object's size and thread and the
worker's key base).

Workers hand their maps to the parent as one uncompressed part file each in a directory under
/dev/shm (tmpfs) that the parent made before they started and removes when it exits; the parent
merges the parts into the compressed map."""
from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from chopsticks._fast.payload import STAMP_MAGIC
from chopsticks.errors import ChopsticksError

SUFFIX = ".verify.npz"
EXTRA_SUFFIX = ".extra.npz"         # a worker's part: its extra arrays, beside its raw map
STAMP_FORMAT = "stamp_format"      # the map's blocks' stamp (its magic): another format reads as lost
PARTS_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


def beside(result_json: Path) -> Path:
    """Where the verify map of the run whose JSON result is result_json goes: r.json → r.verify.npz."""
    result_json = Path(result_json)
    stem = result_json.name[: -len(".json")] if result_json.name.endswith(".json") else result_json.name
    return result_json.with_name(stem + SUFFIX)


class VerifyMap:
    """An earlier run's verify map, read lazily: only the worker that needs its keys loads them."""

    def __init__(self, result_json: str):
        self.path = beside(Path(result_json))
        try:
            self._npz = np.load(self.path, allow_pickle=False)
            self.settings = json.loads(str(self._npz["settings"]))
        except FileNotFoundError:
            raise ChopsticksError(f"--verify-against {result_json}: no verify map {self.path} (a run keeps one "
                                  f"when it writes with --verify; bench rados and s3 also need --no-cleanup)") from None
        except (OSError, ValueError, KeyError) as e:
            raise ChopsticksError(f"--verify-against {result_json}: {self.path} is not a verify map ({e})") from None
        if self.settings.pop(STAMP_FORMAT, None) != STAMP_MAGIC:
            raise ChopsticksError(f"--verify-against {result_json}: its blocks were stamped by another chopsticks "
                                  "version, whose stamps this one does not check")

    def check(self, now: dict, option_of: dict[str, str]) -> None:
        """One-line error naming the first setting (by its option) that differs from this run's."""
        for key, option in option_of.items():
            then = self.settings.get(key)
            if then != now[key]:
                raise ChopsticksError(f"--verify-against: {option} differs from the earlier run's "
                                      f"({then} there, {now[key]} here): its map does not describe these keys")

    def worker(self, index: int) -> tuple[np.ndarray, int]:
        """Worker index's last write seq per key and its write count."""
        return self._npz[f"w{index}_last_seq"], int(self._npz[f"w{index}_writes"])

    def extra(self, index: int) -> dict[str, np.ndarray]:
        """Worker index's extra arrays, by name (save_part's `extra`)."""
        own = f"w{index}_"
        return {name[len(own):]: self._npz[name] for name in self._npz.files
                if name.startswith(own) and name[len(own):] not in ("last_seq", "writes")}


def save(path: Path, settings: dict, maps: list[tuple[np.ndarray, int]], extras: list[dict] | None = None) -> None:
    """Write the map of every worker (index order) with the run's settings, and each worker's
    extra arrays if any, atomically."""
    arrays = {"settings": np.array(json.dumps({**settings, STAMP_FORMAT: STAMP_MAGIC}, sort_keys=True))}
    for i, (last_seq, writes) in enumerate(maps):
        arrays[f"w{i}_last_seq"] = last_seq
        arrays[f"w{i}_writes"] = np.uint64(writes)
        for name, extra in (extras[i] if extras else {}).items():
            arrays[f"w{i}_{name}"] = extra
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    try:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def new_parts_dir() -> str:
    """A name for the directory this run's workers leave their maps in (made by make_parts_dir)."""
    return os.path.join(PARTS_DIR, f"chopsticks-verify-{os.getpid()}-{secrets.token_hex(4)}")


def make_parts_dir(parts: str) -> None:
    """In the parent, before the workers start: make the directory, removed when the parent exits."""
    os.makedirs(parts, mode=0o700, exist_ok=True)
    atexit.register(shutil.rmtree, parts, True)


def save_part(parts: str, index: int, last_seq: bytes, writes: int, extra: dict[str, np.ndarray] | None = None) -> None:
    """In worker index, after its loop: its map (raw uint64s, then its write count) and its extra
    arrays (an uncompressed .npz beside it), for the parent to merge. A map that cannot be written
    (/dev/shm full) is left out: the parent then keeps none."""
    path = os.path.join(parts, f"w{index}")
    try:
        if extra:
            with open(path + EXTRA_SUFFIX, "wb") as f:
                np.savez(f, **extra)
        with open(path, "wb") as f:
            f.write(last_seq)
            f.write(np.uint64(writes).tobytes())
    except OSError:
        Path(path).unlink(missing_ok=True)


def gather(parts: str, workers: int) -> list[tuple[np.ndarray, int]] | None:
    """Every worker's (last_seq, writes), mapped rather than read; None if a worker left none."""
    maps = []
    for i in range(workers):
        try:
            both = np.memmap(os.path.join(parts, f"w{i}"), dtype=np.uint64, mode="r")
        except (FileNotFoundError, ValueError):     # ValueError: an empty file
            return None
        maps.append((both[:-1], int(both[-1])))
    return maps


def gather_extras(parts: str, workers: int) -> list[dict[str, np.ndarray]]:
    """Every worker's extra arrays ({} for a worker that left none), read whole: they are small."""
    extras = []
    for i in range(workers):
        try:
            with np.load(os.path.join(parts, f"w{i}{EXTRA_SUFFIX}"), allow_pickle=False) as npz:
                extras.append({name: npz[name] for name in npz.files})
        except FileNotFoundError:
            extras.append({})
    return extras


def outputs(parts: str, settings: dict, workers: int, result_paths: list) -> list:
    """In the parent, after the run: (path, writer) of the map beside each JSON result; none, with a
    note, if a worker left no map (its record is unknown). The parts' mappings outlive their files."""
    maps = gather(parts, workers)
    extras = gather_extras(parts, workers) if maps is not None else None
    shutil.rmtree(parts, ignore_errors=True)
    if maps is None:
        print("chopsticks: no verify map kept: a worker left none (it did not finish, or could not write it)",
              file=sys.stderr)
        return []
    return [(beside(p), lambda path: save(path, settings, maps, extras)) for p in result_paths]
