"""What --verify costs: `bench rbd --rw randread` with and without it on the same range of a
running `chopsticks lab`, alternated round by round; the workers' own CPU per op (their librados
threads included) and the ratio verify / plain.

    .venv/bin/python benchmarks/compare_verify.py --rounds 3
"""
from __future__ import annotations

import argparse

from _common import alternate, median, ratio_text, ratios, run_chopsticks, table
from chopsticks.lab import find_running


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lab-dir")
    p.add_argument("--span", default="64M")
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--iodepth", type=int, default=16)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    lab = find_running(args.lab_dir)
    if lab is None:
        raise SystemExit("compare_verify: no running chopsticks lab")
    base = ["rbd", "--conf", str(lab.conf), "--keyring", str(lab.keyring), "--pool", lab.pool, "--image", lab.image,
            "--procs", "1", "--iodepth", str(args.iodepth), "--span", args.span, "--no-save"]
    run_chopsticks([*base, "--rw", "write", "--io-total", args.span])          # every block stamped once
    tools = {
        "plain": lambda rnd: {**run_chopsticks([*base, "--rw", "randread", "--duration", f"{args.duration}s"]),
                              "tool": "plain"},
        "verify": lambda rnd: {**run_chopsticks([*base, "--rw", "randread", "--verify",
                                                 "--duration", f"{args.duration}s"]), "tool": "verify"},
    }
    records = alternate(tools, args.rounds, "randread 4k")
    print(table(["run", "IOPS", "worker CPU µs/op"],
                [[t, median([r for r in records if r["tool"] == t], "iops"),
                  median([r for r in records if r["tool"] == t], "worker_cpu_us_per_op")] for t in tools]))
    print(ratio_text("worker CPU per op, verify / plain:", ratios(records, "worker_cpu_us_per_op", "verify", "plain")))


if __name__ == "__main__":
    main()
