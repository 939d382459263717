"""Reaching a Dask cluster: a scheduler address, `local:N` (a scheduler in this process and N
`chopsticks worker` processes on this machine), or a scheduler served by this process (the 0.x
`--leader`). Also the `chopsticks worker` server. Every Dask setting chopsticks relies on is here."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time

from chopsticks.errors import ChopsticksError

DEFAULT_PORT = 8786
# A load run must never migrate: a lost host's task is not re-run anywhere (the task is pinned to
# one worker address too). Worker processes spawn the engine's pinned processes (not daemonic).
DASK_SETTINGS = {
    "distributed.scheduler.allowed-failures": 0,
    "distributed.worker.daemon": False,
    "distributed.comm.timeouts.connect": "10s",
    "distributed.scheduler.work-stealing": False,
    "distributed.admin.system-monitor.gil.enabled": False,
    "distributed.worker.profile.enabled": False,    # its sampling thread would take CPU from the load
}
PROBE_TIMEOUT_S = 5


def configure() -> None:
    """Apply DASK_SETTINGS and keep Dask's logging (connections, lost workers, reconnect
    tracebacks) off the terminal: chopsticks reports those itself, in one line."""
    import dask

    dask.config.set(DASK_SETTINGS)
    for name in ("distributed", "tornado"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def scheduler_address(address: str) -> str:
    """tcp://HOST:PORT from HOST, HOST:PORT or a full address."""
    if "://" not in address:
        address = "tcp://" + address
    if address.rsplit("/", 1)[-1].count(":") == 0:
        address += f":{DEFAULT_PORT}"
    return address


@contextlib.contextmanager
def serve_scheduler(host: str, port: int):
    """A Dask scheduler in this process (no workers, no dashboard); yields its address."""
    from distributed import LocalCluster

    configure()
    try:
        # Dask's HTTP server (health, metrics) always starts: on a free loopback port, no dashboard.
        cluster = LocalCluster(n_workers=0, processes=False, protocol="tcp://", host=host, scheduler_port=port,
                               dashboard_address=None,
                               scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})
    except OSError as e:
        raise ChopsticksError(f"cannot serve a Dask scheduler on {host}:{port}: {e.strerror or e}") from None
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@contextlib.contextmanager
def local_workers(address: str, n: int):
    """N `chopsticks worker` processes on this machine, named local-0..N-1, stopped (by PID) at the
    end. With at least N usable CPUs, each gets its own share (worker i: every N-th CPU from the
    i-th), so the hosts' pinned workers do not pile onto the same CPUs as real hosts would not."""
    env = {**os.environ, "DASK_LOGGING__DISTRIBUTED": "error"}
    cpus = sorted(os.sched_getaffinity(0))
    shares = [cpus[i::n] if len(cpus) >= n else cpus for i in range(n)]
    procs = [subprocess.Popen([sys.executable, "-m", "chopsticks", "worker", address, "--name", f"local-{i}",
                               "--cpus", ",".join(map(str, shares[i]))],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
             for i in range(n)]
    try:
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 10
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _probe(address: str) -> None:
    """Fail at once when nothing listens at a tcp:// or tls:// address (Dask would retry for its
    whole connect timeout)."""
    hostport = address.split("://", 1)[1]
    host, _, port = hostport.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_TIMEOUT_S).close()
    except (OSError, ValueError) as e:
        raise ChopsticksError(f"cannot reach the Dask scheduler at {address}: {getattr(e, 'strerror', None) or e}") from None


def client(address: str):
    """A Client connected to `address`, or a one-line error saying it cannot be reached."""
    from distributed import Client

    configure()
    if address.startswith(("tcp://", "tls://")):
        _probe(address)
    try:
        return Client(address, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise ChopsticksError(f"cannot reach the Dask scheduler at {address}: {e}") from None


def local_hosts(spec: str) -> int | None:
    """N of --cluster local:N, None for an address."""
    if not spec.startswith("local:"):
        return None
    count = spec.partition(":")[2]
    if not count.isdigit() or int(count) < 1:
        raise ChopsticksError(f"--cluster local:N takes a number of hosts, got '{spec}'")
    return int(count)


@contextlib.contextmanager
def cluster_client(spec: str):
    """A Client for --cluster `spec` (an address, or local:N), closed (with what it started) after."""
    count = local_hosts(spec)
    if count is not None:
        with serve_scheduler("127.0.0.1", 0) as address, local_workers(address, count):
            c = client(address)
            try:
                yield c
            finally:
                c.close()
        return
    c = client(scheduler_address(spec))
    try:
        yield c
    finally:
        c.close()


def serve_worker(address: str, name: str, connect_timeout_s: float, cpus: list[int] | None = None) -> int:
    """`chopsticks worker`: a Dask worker with one task thread, no nanny (its process is the
    parent of the engine's workers, which die with it), no memory-limit kill; the engine's workers
    pinned to `cpus` (default: all usable). Returns an exit status once the scheduler, SIGINT or
    SIGTERM ends it."""
    from distributed import Worker

    from chopsticks.cluster.host import HOST_CPUS_ENV

    if cpus:
        os.environ[HOST_CPUS_ENV] = ",".join(map(str, cpus))
    configure()
    logging.getLogger("distributed.worker").setLevel(logging.INFO)

    async def serve() -> int:
        try:
            try:
                worker = await Worker(address, name=name, nthreads=1, memory_limit=0,
                                      death_timeout=connect_timeout_s, dashboard=False)
            except RuntimeError as e:
                if "name taken" not in str(e.__cause__):
                    raise
                # Two workers on one machine (tests, a big host): the second takes hostname-pid.
                worker = await Worker(address, name=f"{name}-{os.getpid()}", nthreads=1, memory_limit=0,
                                      death_timeout=connect_timeout_s, dashboard=False)
        except (OSError, TimeoutError, asyncio.TimeoutError) as e:
            print(f"chopsticks: error: cannot reach the Dask scheduler at {address} within "
                  f"{connect_timeout_s:g}s ({e})", file=sys.stderr)
            return 1
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, lambda: asyncio.ensure_future(worker.close(executor_wait=False)))
        print(f"chopsticks worker {worker.name} at {worker.address}, scheduler {address}", file=sys.stderr, flush=True)
        await worker.finished()
        return 0

    return asyncio.run(serve())
