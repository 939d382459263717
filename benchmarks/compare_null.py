"""Compare the engine ceilings of `chopsticks bench null` and fio's null engine: no I/O, every op
completes at once, both pinned to the same single CPU with taskset, rounds alternated. Prints
ops/s on that one core and the chopsticks/fio ratio (target: chopsticks ≥ 1.5 × fio).

    .venv/bin/python benchmarks/compare_null.py --cpu 1 --duration 5 --rounds 3
"""
from __future__ import annotations

import argparse
import statistics
import sys

from _common import ToolFailed, alternate, median, of_tool, ratio_text, ratios, run_chopsticks, run_fio, save_json, table

TARGET_RATIO = 1.5


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cpu", default="1", help="the one CPU both tools are pinned to (taskset -c)")
    p.add_argument("--bs", default="4k")
    p.add_argument("--iodepth", type=int, default=1)
    p.add_argument("--duration", type=int, default=5, help="seconds per run")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json-out", help="save every run's figures here")
    return p.parse_args()


def tools_for(args) -> dict:
    """fio then chopsticks, each one process on args.cpu."""
    def fio(rnd: int) -> dict:
        return run_fio({"ioengine": "null", "rw": "randwrite", "bs": args.bs, "iodepth": args.iodepth,
                        "size": "1G", "time_based": 1, "runtime": args.duration, "numjobs": 1}, cpus=args.cpu)

    def chopsticks(rnd: int) -> dict:
        return run_chopsticks(["null", "--procs", "1", "--rw", "randwrite", "--bs", args.bs,
                               "--iodepth", str(args.iodepth), "--duration", f"{args.duration}s"], cpus=args.cpu)

    return {"fio": fio, "chopsticks": chopsticks}


def report(records: list[dict]) -> str:
    """Median ops/s and CPU ns per op per tool, the per-round ratios and the verdict on the target."""
    rows = [[tool, median(of_tool(records, tool), "iops"), median(of_tool(records, tool), "cpu_us_per_op") * 1e3,
             median(of_tool(records, tool), "worker_cpu_us_per_op") * 1e3,
             " ".join(f"{r['iops']:,.0f}" for r in of_tool(records, tool))] for tool in ("fio", "chopsticks")]
    per_round = ratios(records, "iops", "chopsticks", "fio")
    verdict = "met" if per_round and statistics.median(per_round) >= TARGET_RATIO else "NOT met"
    return "\n".join([table(["tool", "ops/s on 1 CPU (median)", "CPU ns/op", "worker CPU ns/op", "ops/s per round"], rows),
                      ratio_text("chopsticks/fio ops/s per round", per_round),
                      ratio_text("fio/chopsticks CPU per op per round", ratios(records, "cpu_us_per_op", "fio", "chopsticks")),
                      f"target chopsticks ≥ {TARGET_RATIO} × fio: {verdict}"])


def main() -> None:
    args = parse_args()
    try:
        records = alternate(tools_for(args), args.rounds, "null")
    except ToolFailed as e:
        sys.exit(str(e))
    print(f"\nnull engines, bs {args.bs}, iodepth {args.iodepth}, one process pinned to CPU {args.cpu}, "
          f"{args.duration}s × {args.rounds} rounds; CPU ns/op = user+sys of the whole process tree / ops")
    print(report(records))
    save_json(args.json_out, {"settings": vars(args), "runs": records})


if __name__ == "__main__":
    main()
