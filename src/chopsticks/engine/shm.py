"""The one definition of a run's shared-memory layout.

One segment per run (/dev/shm/chopsticks-<pid>-<random>) holds, for every worker, rows that only that worker writes and the parent
only reads:
  control  int64[CONTROL_FIELDS]                       parent → workers (stop flag, start time)
  header   int64[n_workers][HEADER_FIELDS]             state, pid, cpu, CPU time, counters
  message  uint8[n_workers][MESSAGE_BYTES]             why a worker failed (UTF-8)
  hist     uint64[n_workers][N_PHASES][n_ops][NBUCKETS] latency histogram per Phase (ramp, measured, drain)
  ts       int64[n_workers][max_secs][n_ops][TS_FIELDS] per-second ops, bytes, errors, lat sum/max (ns),
                                                       stalled and in-flight gauges (TsField)
  errors   int64[n_workers][N_PHASES][n_ops][ERR_CODES] error counts by backend-defined code, per Phase
The hist/ts/errors shapes are those that _fast/histogram.pxd's Recorder writes.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
import mmap
import os
import secrets

import numpy as np

from chopsticks._fast.histogram import CONSTANTS
from chopsticks.engine.contract import ERR_CODES, ERR_OTHER, ERR_STALLED  # noqa: F401 - defined there

NBUCKETS = CONSTANTS["nbuckets"]
TS_FIELDS = CONSTANTS["ts_fields"]
MESSAGE_BYTES = 512
SHM_DIR = "/dev/shm"
SEGMENT_PREFIX = "chopsticks-"      # /dev/shm/chopsticks-<parent pid>-<random>


class Control(enum.IntEnum):
    STOP = 0          # non-zero: workers stop submitting and drain
    START_NS = 1      # CLOCK_MONOTONIC ns at which workers start (0 = not yet)
    PREPARED = 2      # non-zero: the parent has checked the target (Target.prepare): workers may open it
    FIELDS = 3


class Header(enum.IntEnum):
    STATE = 0
    PID = 1
    CPU = 2
    UTIME_US = 3
    STIME_US = 4
    SUBMITTED = 5
    COMPLETED = 6
    END_NS = 7
    FIELDS = 8



# Fields of a time-series row and phases of a completion, numbered by histogram.pxd alone.
TsField = enum.IntEnum("TsField", {k.upper(): v for k, v in CONSTANTS["ts_field_index"].items()})
Phase = enum.IntEnum("Phase", {k.upper(): v for k, v in CONSTANTS["phases"].items()})
N_PHASES = CONSTANTS["n_phases"]
assert len(TsField) == TS_FIELDS and len(Phase) == N_PHASES


class WorkerState(enum.IntEnum):
    STARTING = 0
    READY = 1         # target opened, waiting for START_NS
    RUNNING = 2
    DONE = 3
    FAILED = 4
    KILLED = 5        # set by the parent: the worker died by a signal or had to be killed


@dataclass(frozen=True)
class ShmLayout:
    n_workers: int
    n_ops: int
    max_secs: int

    def _shapes(self) -> list[tuple[str, np.dtype, tuple[int, ...]]]:
        w, o = self.n_workers, self.n_ops
        return [
            ("control", np.dtype(np.int64), (int(Control.FIELDS),)),
            ("header", np.dtype(np.int64), (w, int(Header.FIELDS))),
            ("message", np.dtype(np.uint8), (w, MESSAGE_BYTES)),
            ("hist", np.dtype(np.uint64), (w, N_PHASES, o, NBUCKETS)),
            ("ts", np.dtype(np.int64), (w, self.max_secs, o, TS_FIELDS)),
            ("errors", np.dtype(np.int64), (w, N_PHASES, o, ERR_CODES)),
        ]

    def _offsets(self) -> tuple[dict[str, int], int]:
        offsets, pos = {}, 0
        for name, dtype, shape in self._shapes():
            offsets[name] = pos
            pos += dtype.itemsize * int(np.prod(shape))
            pos = (pos + 4095) // 4096 * 4096
        return offsets, pos

    @property
    def nbytes(self) -> int:
        return self._offsets()[1]


class RunMemory:
    """Numpy views over one run's shared-memory segment: a file in /dev/shm (SHM_DIR) mapped by
    the parent and every worker. Not multiprocessing's SharedMemory: its resource-tracker process
    would outlive the run; the segment's name is removed as soon as every worker has attached."""

    def __init__(self, layout: ShmLayout, name: str, buf: mmap.mmap, owner: bool):
        self.layout, self.name, self.buf, self.owner, self.unlinked = layout, name, buf, owner, False
        offsets, _ = layout._offsets()
        for field, dtype, shape in layout._shapes():
            setattr(self, field, np.ndarray(shape, dtype=dtype, buffer=buf, offset=offsets[field]))

    @classmethod
    def create(cls, layout: ShmLayout) -> RunMemory:
        name = f"{SEGMENT_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        fd = os.open(os.path.join(SHM_DIR, name), os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.ftruncate(fd, layout.nbytes)
            mem = cls(layout, name, mmap.mmap(fd, layout.nbytes), owner=True)
        except BaseException:
            os.unlink(os.path.join(SHM_DIR, name))
            raise
        finally:
            os.close(fd)
        return mem

    @classmethod
    def attach(cls, layout: ShmLayout, name: str) -> RunMemory:
        fd = os.open(os.path.join(SHM_DIR, name), os.O_RDWR | os.O_CLOEXEC)
        try:
            return cls(layout, name, mmap.mmap(fd, layout.nbytes), owner=False)
        finally:
            os.close(fd)

    def worker_rows(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Flat (hist, ts, errors) views of worker i, as the Cython Recorder takes them."""
        return self.hist[i].reshape(-1), self.ts[i].reshape(-1), self.errors[i].reshape(-1)

    def set_message(self, i: int, text: str) -> None:
        data = text.encode()[: MESSAGE_BYTES - 1]
        self.message[i, :] = 0
        self.message[i, : len(data)] = np.frombuffer(data, dtype=np.uint8)

    def get_message(self, i: int) -> str:
        raw = self.message[i].tobytes()
        return raw.split(b"\0", 1)[0].decode(errors="replace")

    def unlink(self) -> None:
        """Remove the segment's name as soon as every worker has attached: the mappings stay
        valid, and nothing can outlive the run whatever kills its processes."""
        if self.owner and not self.unlinked:
            self.unlinked = True
            try:
                os.unlink(os.path.join(SHM_DIR, self.name))
            except FileNotFoundError:
                pass

    def close(self) -> None:
        for field, _, _ in self.layout._shapes():
            setattr(self, field, None)
        self.buf.close()
        self.unlink()
