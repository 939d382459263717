"""`chopsticks worker`: make this machine a client host of a Dask cluster (see README, "Many
client hosts")."""
from __future__ import annotations

import os
import sys
from typing import Annotated, Optional

import typer


def _cpu_list(text: str) -> list[int]:
    """CPUs of a list such as 0-3,8 that this process may use; a usage error otherwise."""
    cpus = set()
    try:
        for part in text.split(","):
            low, _, high = part.partition("-")
            cpus.update(range(int(low), int(high or low) + 1))
    except ValueError:
        raise typer.BadParameter(f"expected a CPU list such as 0-3,8, got '{text}'", param_hint="--cpus") from None
    usable = sorted(cpus & os.sched_getaffinity(0))
    if not usable:
        raise typer.BadParameter(f"none of CPUs {text} is usable here", param_hint="--cpus")
    return usable


def register(app: typer.Typer) -> None:
    app.command(name="worker")(worker)


def worker(
    scheduler: Annotated[str, typer.Argument(help="The Dask scheduler: tcp://HOST:8786 (HOST and HOST:PORT work too).")],
    name: Annotated[Optional[str], typer.Option("--name", help="This host's name in results (default: the hostname).")] = None,
    connect_timeout: Annotated[int, typer.Option("--connect-timeout", min=1, help="Seconds to wait for the scheduler.")] = 60,
    cpus: Annotated[Optional[str], typer.Option("--cpus", help="CPUs the engine's workers may use here, e.g. 0-3,8 (default: all usable).")] = None,
) -> None:
    """Serve runs from a Dask scheduler: one task at a time, each running the engine's pinned workers here."""
    import socket

    from chopsticks.cluster.connect import scheduler_address, serve_worker

    status = serve_worker(scheduler_address(scheduler), name or socket.gethostname(), connect_timeout,
                          _cpu_list(cpus) if cpus else None)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)    # a task thread still draining must not keep the process (and its workers) alive
