"""What --verify costs: 4 KiB reads with and without it, alternated round by round, on a running
`chopsticks lab` — `bench rbd --rw randread` on one range of the lab's image, or `bench s3 --op get`
with a driver (native included); the workers' own CPU per op (their librados threads or driver
threads included) and the ratio verify / plain.

    .venv/bin/python benchmarks/compare_verify.py --rounds 3
    .venv/bin/python benchmarks/compare_verify.py --backend s3 --driver boto3 --rounds 3
    .venv/bin/python benchmarks/compare_verify.py --backend s3 --workload-config mock.yaml --driver mock

(the last, with a `driver: mock` config, needs no lab: the check's cost with almost no driver)
"""
from __future__ import annotations

import argparse

from _common import alternate, median, ratio_text, ratios, run_chopsticks, table
from chopsticks.lab import find_running


def rbd_command(args, lab) -> list[str]:
    """bench rbd randread of --span, after one pass stamping every block of it."""
    base = ["rbd", "--conf", str(lab.conf), "--keyring", str(lab.keyring), "--pool", lab.pool, "--image", lab.image,
            "--procs", "1", "--iodepth", str(args.iodepth), "--span", args.span, "--no-save"]
    run_chopsticks([*base, "--rw", "write", "--io-total", args.span])
    return [*base, "--rw", "randread", "--duration", f"{args.duration}s"]


def s3_command(args, lab) -> list[str]:
    """bench s3 GETs of --objects prefilled objects per thread."""
    config = args.workload_config or str(lab.s3_config)
    return ["s3", "--workload-config", config, "--driver", args.driver, "--op", "get", "--size", args.size,
            "--objects", str(args.objects), "--procs", "1", "--concurrency", str(args.concurrency),
            "--duration", f"{args.duration}s", "--no-save"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", choices=("rbd", "s3"), default="rbd")
    p.add_argument("--lab-dir")
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--span", default="64M", help="rbd: the range read")
    p.add_argument("--iodepth", type=int, default=16, help="rbd")
    p.add_argument("--workload-config", help="s3: an S3 config (default: the running lab's)")
    p.add_argument("--driver", default="boto3", help="s3")
    p.add_argument("--size", default="4k", help="s3: object size")
    p.add_argument("--objects", type=int, default=16, help="s3: objects per thread")
    p.add_argument("--concurrency", type=int, default=4, help="s3")
    args = p.parse_args()
    lab = find_running(args.lab_dir)
    if lab is None and not (args.backend == "s3" and args.workload_config):
        raise SystemExit("compare_verify: no running chopsticks lab (bench s3: or give --workload-config)")
    cmd = rbd_command(args, lab) if args.backend == "rbd" else s3_command(args, lab)
    tools = {"plain": lambda rnd: {**run_chopsticks(cmd), "tool": "plain"},
             "verify": lambda rnd: {**run_chopsticks([*cmd, "--verify"]), "tool": "verify"}}
    what = "rbd randread 4k" if args.backend == "rbd" else f"s3 {args.driver} get {args.size}"
    records = alternate(tools, args.rounds, what)
    print(table(["run", "IOPS", "worker CPU µs/op"],
                [[t, median([r for r in records if r["tool"] == t], "iops"),
                  median([r for r in records if r["tool"] == t], "worker_cpu_us_per_op")] for t in tools]))
    print(ratio_text("worker CPU per op, verify / plain:", ratios(records, "worker_cpu_us_per_op", "verify", "plain")))


if __name__ == "__main__":
    main()
