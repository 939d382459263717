"""Coordinated omission, shown: the same 1 s OSD stall under fio `rate_iops` and under
`chopsticks bench rbd --rate`, on a running `chopsticks lab`.

Both tools ask for the same rate with the same ops in flight; 4 s into each run the lab's OSD is
stopped (SIGSTOP) for --stall seconds. fio starts an op's clock when it is finally sent, so the
stall costs it only the ops that were in flight; chopsticks times each op from when it should have
started, so every op the stall delayed shows. Prints each tool's p99, p99.9 and how many ops it saw
take 100 ms or more (with --rounds, alternated).

    .venv/bin/python benchmarks/co_demo.py --rate 1000 --stall 1 --rounds 2
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from _common import CHOPSTICKS, table
from chopsticks.lab import find_running
from chopsticks.metrics.histogram import LOWER_NS, from_sparse, percentiles_ns

SLOW_NS = 100_000_000
STALL_AT_S = 4.0


def stall_osd(pid: int, seconds: float) -> threading.Thread:
    """SIGSTOP the OSD STALL_AT_S into the run, SIGCONT it `seconds` later (in the background)."""
    def pause():
        time.sleep(STALL_AT_S)
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(seconds)
        finally:
            os.kill(pid, signal.SIGCONT)
    t = threading.Thread(target=pause, daemon=True)
    t.start()
    return t


def run_fio(lab, args) -> dict:
    """fio's rbd engine at rate_iops; latency is its completion latency (clat), from the submit."""
    env = {**os.environ, "CEPH_CONF": str(lab.conf)}
    cmd = ["fio", "--name=co", "--ioengine=rbd", f"--pool={lab.pool}", f"--rbdname={lab.image}",
           f"--clientname={lab.client_id}", "--rw=randwrite", "--bs=4k", f"--iodepth={args.iodepth}",
           f"--numjobs={args.procs}", "--group_reporting", f"--rate_iops={int(args.rate / args.procs)}",
           "--time_based", f"--runtime={args.duration}", "--direct=1",
           "--percentile_list=99:99.9", "--output-format=json"]
    stall = stall_osd(lab.pids["osd.0"], args.stall)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    stall.join()
    job = json.loads(out)["jobs"][0]["write"]
    pct = job["clat_ns"]["percentile"]
    ios = job["total_ios"]
    # fio's latency_ms buckets: % of ops whose latency fell in [100, 250), [250, 500), ... ms.
    buckets = json.loads(out)["jobs"][0]["latency_ms"]
    slow_pct = sum(v for k, v in buckets.items() if k.lstrip(">=").isdigit() and int(k.lstrip(">=")) >= 100)
    return {"tool": "fio rate_iops", "ops": ios, "p99_ms": pct["99.000000"] / 1e6, "p99_9_ms": pct["99.900000"] / 1e6,
            "slow_ops": round(ios * slow_pct / 100)}


def run_chopsticks(lab, args) -> dict:
    """chopsticks --rate; latency is the response time, from each op's intended start."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.json"
        cmd = [CHOPSTICKS, "bench", "rbd", "--conf", str(lab.conf), "--keyring", str(lab.keyring),
               "--pool", lab.pool, "--image", lab.image, "--procs", str(args.procs), "--iodepth", str(args.iodepth),
               "--rate", str(args.rate), "--duration", f"{args.duration}s", "--quiet", "--no-save", "--json", str(path)]
        stall = stall_osd(lab.pids["osd.0"], args.stall)
        subprocess.run(cmd, capture_output=True, text=True)
        stall.join()
        doc = json.loads(path.read_text())
    rows = {}
    for op in ("write", "write.service"):
        hist = from_sparse(doc["histogram"]["ops"][op])
        p99, p999 = percentiles_ns(hist, (99.0, 99.9))
        rows[op] = {"ops": int(hist.sum()), "p99_ms": p99 / 1e6, "p99_9_ms": p999 / 1e6,
                    "slow_ops": int(hist[LOWER_NS >= SLOW_NS].sum())}
    return [{"tool": "chopsticks --rate (response)", **rows["write"]},
            {"tool": "chopsticks --rate (service)", **rows["write.service"]}]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lab-dir")
    p.add_argument("--rate", type=float, default=1000, help="ops/s over all processes")
    p.add_argument("--procs", type=int, default=1)
    p.add_argument("--iodepth", type=int, default=16)
    p.add_argument("--duration", type=int, default=12)
    p.add_argument("--stall", type=float, default=1.0, help="seconds the OSD is stopped")
    p.add_argument("--rounds", type=int, default=1)
    args = p.parse_args()
    lab = find_running(args.lab_dir)
    if lab is None:
        sys.exit("co_demo: no running chopsticks lab (start one with `chopsticks lab up`)")
    results = []
    for rnd in range(1, args.rounds + 1):
        results.append({**run_fio(lab, args), "round": rnd})
        results.extend({**r, "round": rnd} for r in run_chopsticks(lab, args))
    print(f"{args.rate:g} ops/s, {args.procs} process(es) × iodepth {args.iodepth}, "
          f"OSD stopped {args.stall:g}s at {STALL_AT_S:g}s of {args.duration}s")
    print(table(["tool", "round", "ops", "p99 ms", "p99.9 ms", "ops ≥ 100 ms"],
                [[r["tool"], r["round"], r["ops"], r["p99_ms"], r["p99_9_ms"], r["slow_ops"]] for r in results]))


if __name__ == "__main__":
    main()
