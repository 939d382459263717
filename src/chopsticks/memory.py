"""How much memory the machine has to spare, and the check that a run's I/O buffers fit in it."""
from __future__ import annotations

from chopsticks.errors import ChopsticksError


def available_memory() -> int | None:
    """MemAvailable of /proc/meminfo in bytes (None where it cannot be read)."""
    try:
        with open("/proc/meminfo") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        return None


def check_buffers(per_worker_bytes: int, workers: int, what: str) -> None:
    """One-line error when the workers' buffers would not fit in half the available memory."""
    need, available = per_worker_bytes * workers, available_memory()
    if available is not None and need > available // 2:
        raise ChopsticksError(f"{what} needs {need / 2**30:.1f} GiB of buffers over {workers} worker(s), more than "
                              f"half the {available / 2**30:.1f} GiB available: lower --iodepth, the size or --procs")
