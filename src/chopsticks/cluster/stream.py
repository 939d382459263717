"""The one definition of what a host streams to the client (Worker.log_event → subscribe_topic):
msgpack-able dicts, arrays sent sparse (shape, flat indexes, values) since most buckets are 0.

  {"kind": "ready", "host": i}                         every worker of host i has opened its target
  {"kind": "first_op", "host": i, "at": wall_s}        when host i's first worker began its loop
  {"kind": "done", "host": i}                          host i's workers have stopped: no more seconds
  {"kind": "second", "host": i, "second": s,           what host i's workers recorded in second s:
   "ts": int64[n_ops][TS_FIELDS] (LAT_MAX: max over workers, other fields summed),
   "hist": uint64[N_PHASES][n_ops][NBUCKETS] and "errors": int64[N_PHASES][n_ops][ERR_CODES]
           (changes since the previous second), "cpu_pct": [per worker], "ramp", "draining"}
"""
from __future__ import annotations

import numpy as np


def topic(run_id: str) -> str:
    return f"chopsticks-{run_id}"


def sparse(a: np.ndarray) -> list:
    """[shape, flat indexes of the non-zero cells, their values] as plain ints."""
    flat = a.reshape(-1)
    idx = np.flatnonzero(flat)
    return [list(a.shape), idx.tolist(), flat[idx].tolist()]


def dense(s: list, dtype) -> np.ndarray:
    shape, idx, values = s
    a = np.zeros(int(np.prod(shape)), dtype=dtype)
    a[np.asarray(idx, dtype=np.int64)] = np.asarray(values, dtype=dtype)
    return a.reshape(shape)


def ready(host: int) -> dict:
    return {"kind": "ready", "host": host}


def first_op(host: int, at: float) -> dict:
    return {"kind": "first_op", "host": host, "at": at}


def done(host: int) -> dict:
    return {"kind": "done", "host": host}


def second(host: int, second: int, ts: np.ndarray, hist: np.ndarray, errors: np.ndarray,
           cpu_pct: np.ndarray, ramp: bool, draining: bool) -> dict:
    return {"kind": "second", "host": host, "second": second, "ts": sparse(ts), "hist": sparse(hist),
            "errors": sparse(errors), "cpu_pct": [float(x) for x in cpu_pct], "ramp": ramp, "draining": draining}
