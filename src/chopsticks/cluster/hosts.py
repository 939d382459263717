"""Which hosts a cluster run uses, before anything starts: wait until enough are connected, check
that they run the client's versions, measure their clocks, give each its share of the workers."""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

from chopsticks import __version__
from chopsticks.errors import ChopsticksError

CLOCK_PROBES = 5
CLOCK_WARN_MS = 10.0


@dataclass
class Host:
    """One host of the run, as the client learnt it before the start."""
    index: int
    name: str
    address: str
    procs: int
    first_worker: int
    clock_offset_s: float           # host wall clock minus the client's, measured by round trips
    rtt_s: float


def _host_facts() -> dict:
    """Run on each host (Client.run, a quick call): what must match the client, and its CPUs."""
    import socket

    from chopsticks.cluster.host import host_cpus

    return {**_versions(), "cpus": len(host_cpus()), "hostname": socket.gethostname()}


def _versions() -> dict[str, str]:
    import platform

    import dask
    import distributed

    return {"chopsticks": __version__, "dask": dask.__version__, "distributed": distributed.__version__,
            "python": platform.python_version()}


def _wall_clock() -> float:
    return time.time()


def _wait_for(client, wanted: int | None, wait_s: float) -> list[str]:
    """Addresses of the hosts to use, once enough are connected (one-line error otherwise)."""
    address = client.scheduler.address
    deadline = time.monotonic() + wait_s
    while True:
        workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
        if len(workers) >= (wanted or 1):
            return workers[:wanted] if wanted else workers
        if time.monotonic() > deadline:
            raise ChopsticksError(f"only {len(workers)} of {wanted or 1} host(s) connected to {address} within "
                                  f"{wait_s:g}s (start `chopsticks worker {address}` on each host)")
        time.sleep(0.1)


def check_versions(facts: dict[str, dict], names: dict[str, str]) -> None:
    """One-line error naming the first host whose chopsticks, Dask or Python differs from the client's."""
    mine = _versions()
    for address, theirs in facts.items():
        for package, version in mine.items():
            if theirs.get(package) != version:
                raise ChopsticksError(f"host {names[address]} ({address}) runs {package} {theirs.get(package)}, "
                                      f"this client {version}: install the same versions everywhere")


def _clock_offsets(client, addresses: list[str]) -> dict[str, tuple[float, float]]:
    """{address: (offset s, round trip s)}: each host's wall clock minus the client's, from the
    probe with the shortest round trip."""
    best: dict[str, tuple[float, float]] = {}
    for _ in range(CLOCK_PROBES):
        t0 = time.time()
        theirs = client.run(_wall_clock, workers=addresses)
        t1 = time.time()
        for address, t in theirs.items():
            rtt = t1 - t0
            if address not in best or rtt < best[address][1]:
                best[address] = (t - (t0 + t1) / 2, rtt)
    return best


def _procs_per_host(procs: int | None, procs_cap: int | None, cpus: int, n_hosts: int) -> int:
    if procs:
        return procs
    if procs_cap:
        return max(1, min(cpus, math.ceil(procs_cap / n_hosts)))
    return cpus


def find_hosts(client, wanted: int | None, wait_s: float, procs: int | None, procs_cap: int | None) -> list[Host]:
    """The hosts of the run in name order, each with its workers (`procs`, else its CPUs, at most
    what `procs_cap` workers over the cluster need) and its clock offset (warned above 10 ms)."""
    addresses = _wait_for(client, wanted, wait_s)
    try:
        facts = client.run(_host_facts, workers=addresses)
    except Exception as e:  # noqa: BLE001 - a host without chopsticks, a dead host
        raise ChopsticksError(f"could not query the hosts: {type(e).__name__}: {e}") from None
    info = client.scheduler_info(n_workers=-1)["workers"]
    names = {a: str(info.get(a, {}).get("name") or facts[a]["hostname"]) for a in addresses}
    addresses.sort(key=lambda a: (names[a], a))     # host order (worker indexes) follows the names
    check_versions(facts, names)
    clocks = _clock_offsets(client, addresses)
    hosts, first = [], 0
    for i, a in enumerate(addresses):
        n = _procs_per_host(procs, procs_cap, facts[a]["cpus"], len(addresses))
        hosts.append(Host(i, names[a], a, n, first, *clocks[a]))
        first += n
    for h in hosts:
        if abs(h.clock_offset_s) * 1e3 > CLOCK_WARN_MS:
            print(f"chopsticks: warning: host {h.name}'s clock is {h.clock_offset_s * 1e3:+.1f} ms off this "
                  f"client's (± {h.rtt_s * 5e2:.1f} ms): synchronise the hosts' clocks (NTP)", file=sys.stderr)
    return hosts
