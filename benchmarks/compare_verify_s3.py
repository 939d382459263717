"""What `bench s3 --verify` costs a Python driver: 4 KiB GETs from the lab's RGW with and without it,
alternated round by round; the workers' own CPU per GET (the driver's threads included) and the
ratio verify / plain.

    .venv/bin/python benchmarks/compare_verify_s3.py --driver boto3 --rounds 3
    .venv/bin/python benchmarks/compare_verify_s3.py --workload-config mock.yaml --driver mock

(the second, with a `driver: mock` config, needs no lab: the check's cost with almost no driver)
"""
from __future__ import annotations

import argparse

from _common import alternate, median, ratio_text, ratios, run_chopsticks, table
from chopsticks.lab import find_running


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lab-dir")
    p.add_argument("--workload-config", help="an S3 config (default: the running lab's)")
    p.add_argument("--driver", default="boto3")
    p.add_argument("--size", default="4k")
    p.add_argument("--objects", type=int, default=16)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    config = args.workload_config
    if config is None:
        lab = find_running(args.lab_dir)
        if lab is None:
            raise SystemExit("compare_verify_s3: no running chopsticks lab (or give --workload-config)")
        config = str(lab.s3_config)
    base = ["s3", "--workload-config", config, "--driver", args.driver, "--op", "get",
            "--size", args.size, "--objects", str(args.objects), "--procs", "1",
            "--concurrency", str(args.concurrency), "--duration", f"{args.duration}s", "--no-save"]
    tools = {"plain": lambda rnd: {**run_chopsticks(base), "tool": "plain"},
             "verify": lambda rnd: {**run_chopsticks([*base, "--verify"]), "tool": "verify"}}
    records = alternate(tools, args.rounds, f"{args.driver} get {args.size}")
    print(table(["run", "IOPS", "worker CPU µs/op"],
                [[t, median([r for r in records if r["tool"] == t], "iops"),
                  median([r for r in records if r["tool"] == t], "worker_cpu_us_per_op")] for t in tools]))
    print(ratio_text("worker CPU per op, verify / plain:", ratios(records, "worker_cpu_us_per_op", "verify", "plain")))


if __name__ == "__main__":
    main()
