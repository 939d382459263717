"""The one definition of a run's shared-memory layout.

One segment per run holds, for every worker, rows that only that worker writes and the parent
only reads:
  control  int64[CONTROL_FIELDS]                       parent → workers (stop flag, start time)
  header   int64[n_workers][HEADER_FIELDS]             state, pid, cpu, CPU time, counters
  message  uint8[n_workers][MESSAGE_BYTES]             why a worker failed (UTF-8)
  hist     uint64[n_workers][2][n_ops][NBUCKETS]       latency histogram; phase 0 = ramp, 1 = measured
  ts       int64[n_workers][max_secs][n_ops][TS_FIELDS] per-second ops, bytes, errors, lat sum/max (ns)
  errors   int64[n_workers][2][n_ops][ERR_CODES]       error counts by backend-defined code, per phase
The hist/ts/errors shapes are those that _fast/histogram.pxd's Recorder writes.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from multiprocessing import shared_memory

import numpy as np

from chopsticks._fast.histogram import CONSTANTS

NBUCKETS = CONSTANTS["nbuckets"]
TS_FIELDS = CONSTANTS["ts_fields"]
ERR_CODES = CONSTANTS["err_codes"]
ERR_STALLED = CONSTANTS["err_stalled"]
ERR_OTHER = CONSTANTS["err_other"]
MESSAGE_BYTES = 512


class Control(enum.IntEnum):
    STOP = 0          # non-zero: workers stop submitting and drain
    START_NS = 1      # CLOCK_MONOTONIC ns at which workers start (0 = not yet)
    FIELDS = 2


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


class TsField(enum.IntEnum):
    """Fields of a time-series row, as histogram.pxd's TS_* constants number them."""
    OPS = 0
    BYTES = 1
    ERRORS = 2
    LAT_SUM_NS = 3
    LAT_MAX_NS = 4


assert len(TsField) == TS_FIELDS


class WorkerState(enum.IntEnum):
    STARTING = 0
    READY = 1         # target opened, waiting for START_NS
    RUNNING = 2
    DONE = 3
    FAILED = 4


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
            ("hist", np.dtype(np.uint64), (w, 2, o, NBUCKETS)),
            ("ts", np.dtype(np.int64), (w, self.max_secs, o, TS_FIELDS)),
            ("errors", np.dtype(np.int64), (w, 2, o, ERR_CODES)),
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
    """Numpy views over one run's shared-memory segment."""

    def __init__(self, layout: ShmLayout, shm: shared_memory.SharedMemory, owner: bool):
        self.layout, self.shm, self.owner = layout, shm, owner
        offsets, _ = layout._offsets()
        for name, dtype, shape in layout._shapes():
            setattr(self, name, np.ndarray(shape, dtype=dtype, buffer=shm.buf, offset=offsets[name]))

    @classmethod
    def create(cls, layout: ShmLayout) -> RunMemory:
        return cls(layout, shared_memory.SharedMemory(create=True, size=layout.nbytes), owner=True)

    @classmethod
    def attach(cls, layout: ShmLayout, name: str) -> RunMemory:
        return cls(layout, shared_memory.SharedMemory(name=name), owner=False)

    @property
    def name(self) -> str:
        return self.shm.name

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

    def close(self) -> None:
        for name, _, _ in self.layout._shapes():
            setattr(self, name, None)
        self.shm.close()
        if self.owner:
            self.shm.unlink()
