"""The run directory every `bench` and `run` keeps its results in (unless --no-save):
./chopsticks-results/<YYYYmmdd-HHMMSS>-<command>/, under --results-dir if given, or exactly
$CHOPSTICKS_RUN_DIR when that is set (the variable of chopsticks 0.x). Created before the run."""
from __future__ import annotations

import itertools
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from chopsticks.errors import ChopsticksError

RESULTS_ROOT = Path("chopsticks-results")
RUN_DIR_ENV = "CHOPSTICKS_RUN_DIR"
# What a run directory holds (names fixed so scripts can find them).
RESULT_JSON, SUMMARY_CSV, TIMESERIES_CSV, REPORT_HTML = "result.json", "summary.csv", "timeseries.csv", "report.html"


def command_words(command: tuple[str, ...]) -> list[str]:
    """('chopsticks', 'bench', 'rbd', '--pool', ...) → ['bench', 'rbd']."""
    return list(itertools.takewhile(lambda w: not w.startswith("-"), command[1:]))


@dataclass(frozen=True)
class RunDirectory:
    path: Path
    created: bool           # made by this run (so it may go again if the run never started)

    @classmethod
    def create(cls, command: tuple[str, ...], results_dir: Path | None) -> RunDirectory:
        """Make the directory (one-line error if impossible); a new name if one exists already."""
        preset = os.environ.get(RUN_DIR_ENV)
        try:
            if results_dir is None and preset:
                path = Path(preset)
                created = not path.exists()
                path.mkdir(parents=True, exist_ok=True)
            else:
                name = "-".join([time.strftime("%Y%m%d-%H%M%S"), *command_words(command)])
                path, created = cls._new(Path(results_dir or RESULTS_ROOT), name), True
            with tempfile.NamedTemporaryFile(dir=path, prefix=".check-", delete=True):
                pass
        except OSError as e:
            where = e.filename or results_dir or preset or RESULTS_ROOT
            raise ChopsticksError(f"cannot keep results in {where}: {e.strerror or e} "
                                  "(choose another with --results-dir, or --no-save)") from None
        return cls(path, created)

    @staticmethod
    def _new(root: Path, name: str) -> Path:
        for n in itertools.count(1):
            path = root / (name if n == 1 else f"{name}-{n}")
            try:
                path.mkdir(parents=True)
                return path
            except FileExistsError:
                continue
        raise AssertionError("unreachable")

    def discard(self) -> None:
        """Remove the directory if this run made it and wrote nothing (the run never started)."""
        if self.created:
            try:
                self.path.rmdir()
            except OSError:
                pass

    def __truediv__(self, name: str) -> Path:
        return self.path / name
