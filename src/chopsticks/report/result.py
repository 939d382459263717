"""A result file (the JSON that metrics/export.py result_document() writes) read back and checked,
with the per-op series and histograms the report and the comparison need as numpy arrays."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from chopsticks.errors import ChopsticksError
from chopsticks.metrics import histogram

SERIES_COLUMNS = ("second", "iops", "mib_s", "errors", "stalled", "inflight", "lat_p50_us", "lat_p99_us",
                  "lat_p99_9_us")


@dataclass(frozen=True)
class Result:
    """One run's result document; `name` labels it in reports (the file's name)."""
    name: str
    doc: dict

    @property
    def rows(self) -> list[dict]:
        return self.doc["summary"]

    @property
    def ops(self) -> list[str]:
        """Op names with a summary row, "all" left out."""
        return [row["op"] for row in self.rows if row["op"] != "all"]

    @property
    def own_ops(self) -> list[str]:
        """Ops that are operations of their own: derived timings (get.ttfb, schedule.lag, ...),
        saved without IOPS, time parts of other ops and would count them twice."""
        return [op for op in self.ops if self.row(op).get("iops") is not None]

    def row(self, op: str) -> dict | None:
        return next((row for row in self.rows if row["op"] == op), None)

    @property
    def command(self) -> str:
        return " ".join(self.doc.get("command", []))

    @property
    def title(self) -> str:
        """`bench rbd`, `run`, ...: the command's words before its first option."""
        words = []
        for word in self.doc.get("command", [])[1:]:
            if word.startswith("-"):
                break
            words.append(word)
        return " ".join(words) or "run"

    def series(self, op: str, phase: str | None = None) -> dict[str, np.ndarray]:
        """The per-second columns of one op (NaN where a value is missing), optionally of one phase."""
        rows = [r for r in self.doc.get("timeseries", []) if r.get("op") == op and (phase is None or r.get("phase") == phase)]
        out = {col: np.array([number(r.get(col)) for r in rows], dtype=float) for col in SERIES_COLUMNS}
        out["phase"] = np.array([r.get("phase", "measured") for r in rows])
        return out

    def measured_seconds(self, op: str) -> dict[str, np.ndarray]:
        """Whole measured seconds of one op: a last second cut short (Ctrl+C) is left out."""
        s = self.series(op, "measured")
        measured = float(self.doc.get("measured_s") or 0.0)
        if len(s["second"]) > 1 and measured - math.floor(measured) > 0.01:
            s = {k: v[:-1] for k, v in s.items()}
        return s

    @property
    def cluster_events(self) -> list[tuple[int, str]]:
        """(second, what changed) seen by the cluster watch (health, OSDs, PGs), in order."""
        return [(int(e.get("second", 0)), str(e.get("event", ""))) for e in self.doc.get("cluster_events") or []]

    def histogram(self, op: str) -> np.ndarray:
        """The merged latency histogram of one op (measured phase), NBUCKETS counts."""
        return histogram.from_sparse(self.doc.get("histogram", {}).get("ops", {}).get(op, []))


def number(value) -> float:
    """A JSON number as a float; null (how NaN is saved) as NaN."""
    return math.nan if value is None else float(value)


def check_document(doc, name: str) -> Result:
    """A Result, or ChopsticksError saying the document is not a chopsticks result."""
    def bad(why: str) -> ChopsticksError:
        return ChopsticksError(f"{name}: not a chopsticks result file ({why})")

    if not isinstance(doc, dict):
        raise bad(f"a JSON {type(doc).__name__}, not an object")
    rows = doc.get("summary")
    if not isinstance(rows, list) or not rows:
        raise bad("no 'summary' rows")
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("op"), str) or not isinstance(row.get("ops"), int):
            raise bad("a summary row without 'op' and 'ops'")
    for key, kind in (("timeseries", list), ("histogram", dict), ("settings", dict), ("command", list)):
        if key in doc and not isinstance(doc[key], kind):
            raise bad(f"'{key}' is not a {kind.__name__}")
    return Result(name, doc)


def load_result(path: Path) -> Result:
    """Read and check a result file; one-line ChopsticksError if it cannot be read or is not one."""
    path = Path(path)
    try:
        doc = orjson.loads(path.read_bytes())
    except OSError as e:
        raise ChopsticksError(f"cannot read {path}: {e.strerror or e}") from None
    except orjson.JSONDecodeError as e:
        raise ChopsticksError(f"{path}: not a chopsticks result file (invalid JSON: {e})") from None
    return check_document(doc, path.name)


def from_document(doc: dict, name: str) -> Result:
    """A result document still in memory (numpy values, NaN), as it would read back from its file."""
    return check_document(orjson.loads(orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)), name)
