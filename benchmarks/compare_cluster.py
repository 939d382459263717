"""Does spreading the same workers over hosts cost throughput? `chopsticks bench rbd` standalone
(--procs 2) against the same 2 workers as 2 hosts × 1 proc on a Dask cluster (a `dask scheduler`
and two `chopsticks worker` processes on this machine, each on one CPU as the standalone workers
are; started here, stopped by PID), rounds alternated. Prints the throughput ratio (target
≥ 0.97), the first-op spread across hosts (target ≤ 10 ms) and the client's CPU while the hosts
ran (merging their streams).

    eval "$(.venv/bin/chopsticks lab env --dir /tmp/devlab)"
    .venv/bin/python benchmarks/compare_cluster.py --duration 10 --rounds 3
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import CHOPSTICKS, ToolFailed, median, of_tool, ratio_text, ratios, record, run_measured, save_json, table

TARGET_RATIO = 0.97
TARGET_SPREAD_MS = 10.0


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--image", default="compare-cluster", help="image prefix (--image-per-proc, created if missing)")
    p.add_argument("--bs", default="4k")
    p.add_argument("--rw", default="randwrite")
    p.add_argument("--iodepth", type=int, default=16)
    p.add_argument("--duration", type=int, default=10, help="seconds per run")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json-out", help="save every run's figures here")
    return p.parse_args()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalDaskCluster:
    """A `dask scheduler` and two `chopsticks worker` processes on loopback, stopped by PID."""

    def __init__(self, cpus: list[int]):
        self.address = f"tcp://127.0.0.1:{free_port()}"
        env = {**os.environ, "DASK_LOGGING__DISTRIBUTED": "error"}
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
        port = self.address.rsplit(":", 1)[1]
        self.procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                        "--port", port, "--no-dashboard"], **quiet)]
        time.sleep(2)
        # host i on CPU i, as the standalone run pins its worker i
        self.procs += [subprocess.Popen([CHOPSTICKS, "worker", self.address, "--name", f"host-{i}",
                                         "--cpus", str(cpu)], **quiet) for i, cpu in enumerate(cpus)]

    def close(self) -> None:
        for p in reversed(self.procs):
            p.terminate()
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def run_bench(tool: str, args: argparse.Namespace, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="compare-") as tmp:
        path = Path(tmp) / "result.json"
        cmd = [CHOPSTICKS, "bench", "rbd", "--image", args.image, "--image-per-proc", "--create", "256M",
               "--rw", args.rw, "--bs", args.bs, "--iodepth", str(args.iodepth), "--duration", f"{args.duration}s",
               "--quiet", "--no-save", "--json", str(path), *extra]
        _, wall, cpu = run_measured(cmd)
        doc = json.loads(path.read_text())
    total = doc["summary"][-1]
    return record(tool, total["ops"], total["iops"], total["lat_p50_us"], total["lat_p99_us"], wall, cpu,
                  mib_s=total["mib_s"], first_op_spread_ms=doc.get("first_op_spread_ms") or float("nan"),
                  client_cpu_pct=doc.get("client_cpu_pct", float("nan")),
                  host_ops=[h["summary"][-1]["ops"] for h in doc.get("hosts", [])])


def main() -> None:
    args = parse_args()
    cluster = LocalDaskCluster(sorted(os.sched_getaffinity(0))[:2])
    records = []
    try:
        for rnd in range(1, args.rounds + 1):
            for tool, extra in (("standalone", ["--procs", "2"]),
                                ("cluster", ["--procs", "1", "--cluster", cluster.address, "--hosts", "2"])):
                rec = {**run_bench(tool, args, extra), "round": rnd}
                print(f"  round {rnd} {tool:<10} {rec['iops']:>10,.0f} IOPS  spread {rec['first_op_spread_ms']:.1f} ms",
                      file=sys.stderr)
                records.append(rec)
    except ToolFailed as e:
        sys.exit(str(e))
    finally:
        cluster.close()
    per_round = ratios(records, "iops", "cluster", "standalone")
    spreads = [r["first_op_spread_ms"] for r in of_tool(records, "cluster")]
    rows = [[tool, median(of_tool(records, tool), "iops"), median(of_tool(records, tool), "lat_p99_us"),
             " ".join(f"{r['iops']:,.0f}" for r in of_tool(records, tool))] for tool in ("standalone", "cluster")]
    print(f"\nbench rbd {args.rw} bs {args.bs} iodepth {args.iodepth}, 2 workers: standalone --procs 2 vs "
          f"2 hosts × 1 proc (this machine), {args.duration}s × {args.rounds} rounds")
    print(table(["mode", "IOPS (median)", "p99 µs (median)", "IOPS per round"], rows))
    print(ratio_text("cluster/standalone IOPS per round", per_round)
          + f"; target ≥ {TARGET_RATIO}: {'met' if per_round and statistics.median(per_round) >= TARGET_RATIO else 'NOT met'}")
    print(f"first-op spread across hosts: {', '.join(f'{s:.1f}' for s in spreads)} ms (target ≤ {TARGET_SPREAD_MS:g}: "
          f"{'met' if spreads and max(spreads) <= TARGET_SPREAD_MS else 'NOT met'})")
    print(f"client CPU while the hosts ran: {median(of_tool(records, 'cluster'), 'client_cpu_pct'):.1f} % of a core (median)")
    save_json(args.json_out, {"settings": vars(args), "runs": records})


if __name__ == "__main__":
    main()
