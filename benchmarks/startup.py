"""What a run costs before and around its first op: the CPU (user+sys, parent and workers) of a
2-worker `chopsticks bench null --io-total 4k` that does almost nothing else, against fio's null
engine doing the same, rounds alternated. Prints the medians and the ratio (target: chopsticks
≤ 0.3 s).

    .venv/bin/python benchmarks/startup.py --rounds 7

Python's bytecode cache is allowed (PYTHONDONTWRITEBYTECODE is dropped from the environment): an
installed package has its .pyc files, and compiling every module on each start costs ~0.1 s more.
"""
from __future__ import annotations

import argparse
import os
import statistics

from _common import CHOPSTICKS, run_measured

TARGET_S = 0.3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--procs", type=int, default=2)
    args = p.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    commands = {
        "chopsticks": [CHOPSTICKS, "bench", "null", "--procs", str(args.procs), "--io-total", "4k",
                       "--progress", "none", "--no-save", "--quiet"],
        "fio": ["fio", "--name=startup", "--ioengine=null", "--rw=randwrite", "--bs=4k", "--size=4k",
                f"--numjobs={args.procs}", "--thread=0", "--output-format=json"],
    }
    run_measured(commands["chopsticks"], env=env)          # writes the .pyc files once
    cpu: dict[str, list[float]] = {tool: [] for tool in commands}
    for _ in range(args.rounds):
        for tool, cmd in commands.items():
            cpu[tool].append(run_measured(cmd, env=env)[2])
    for tool, values in cpu.items():
        print(f"{tool:10} CPU s: median {statistics.median(values):.3f}  "
              f"(min {min(values):.3f}, max {max(values):.3f}, {args.rounds} runs)")
    ours = statistics.median(cpu["chopsticks"])
    print(f"chopsticks / fio: {ours / statistics.median(cpu['fio']):.2f}; "
          f"target ≤ {TARGET_S} s: {'met' if ours <= TARGET_S else 'not met'}")


if __name__ == "__main__":
    main()
