"""Shared parts of the comparison scripts: run a tool with its CPU time measured, read fio's and
chopsticks' JSON into one record shape, alternate tools over rounds, and print medians and ratios.

A record is a dict: tool, rw, round, ops, iops, lat_p50_us, lat_p99_us, wall_s, cpu_s (user+sys of
the whole process tree, from RUSAGE_CHILDREN), cpu_us_per_op, plus tool-specific extras.
"""
from __future__ import annotations

import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

CHOPSTICKS = str(Path(sys.executable).with_name("chopsticks"))


class ToolFailed(RuntimeError):
    """A compared tool exited non-zero; the message carries the tail of its stderr."""


def run_measured(cmd: list[str], env: dict[str, str] | None = None, cpus: str | None = None) -> tuple[str, float, float]:
    """Run cmd (under `taskset -c cpus` if given); return its stdout, wall seconds and the CPU
    seconds (user+sys) of it and every descendant it waited for."""
    if cpus is not None:
        cmd = ["taskset", "-c", cpus, *cmd]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise ToolFailed(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-800:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc.stdout, wall, cpu


def use_lab(args):
    """Unless --conf was given: point args.conf/keyring at the running lab and return it (None
    with --conf); exit if there is neither."""
    from chopsticks.lab import find_running

    if args.conf:
        return None
    lab = find_running(args.lab_dir)
    if lab is None:
        sys.exit("no running chopsticks lab found and no --conf given; this script starts none "
                 "(chopsticks lab up --dir DIR, then --lab-dir DIR)")
    args.conf, args.keyring = str(lab.conf), args.keyring or str(lab.keyring)
    print(f"using the lab in {lab.dir}")
    return lab


def ceph_env(args) -> dict[str, str]:
    """Environment that points the Ceph CLIs and fio's rbd engine at args.conf as client args.id
    (with args.keyring when given)."""
    ceph_args = f"--id {args.id}" + (f" --keyring {args.keyring}" if args.keyring else "")
    return {**os.environ, "CEPH_CONF": args.conf, "CEPH_ARGS": ceph_args}


def record(tool: str, ops: int, iops: float, p50_us: float, p99_us: float, wall: float, cpu: float, **extra) -> dict:
    """One run's figures in the shared record shape."""
    return {"tool": tool, "ops": ops, "iops": iops, "lat_p50_us": p50_us, "lat_p99_us": p99_us,
            "wall_s": wall, "cpu_s": cpu, "cpu_us_per_op": cpu / ops * 1e6 if ops else math.nan, **extra}


def run_fio(options: dict[str, object], env: dict[str, str] | None = None, cpus: str | None = None) -> dict:
    """One fio job given as {option: value} (`--name` and JSON output are added); read and write
    are reported together (unified_rw_reporting), latency is fio's completion latency (clat)."""
    cmd = ["fio", "--name=compare", "--group_reporting", "--unified_rw_reporting=1",
           "--percentile_list=50:99", "--output-format=json", *(f"--{k}={v}" for k, v in options.items())]
    out, wall, cpu = run_measured(cmd, env, cpus)
    job = json.loads(out)["jobs"][0]
    stats = job["mixed"]
    pct = stats["clat_ns"].get("percentile", {})
    return record("fio", stats["total_ios"], stats["iops"], pct.get("50.000000", math.nan) / 1e3,
                   pct.get("99.000000", math.nan) / 1e3, wall, cpu, error=job["error"])


def run_chopsticks(args: list[str], cpus: str | None = None) -> dict:
    """`chopsticks bench <args> --json`; adds the workers' own CPU per op (without the parent's
    Python start-up), errors, stalled ops and whether the result was partial."""
    with tempfile.TemporaryDirectory(prefix="compare-") as tmp:
        path = Path(tmp) / "result.json"
        _, wall, cpu = run_measured([CHOPSTICKS, "bench", *args, "--quiet", "--json", str(path)], cpus=cpus)
        doc = json.loads(path.read_text())
    total = doc["summary"][-1]
    worker_cpu = sum(w["cpu_user_s"] + w["cpu_sys_s"] for w in doc["workers"])
    ops = total["ops"]
    return record("chopsticks", ops, total["iops"], total["lat_p50_us"], total["lat_p99_us"], wall, cpu,
                   worker_cpu_us_per_op=worker_cpu / ops * 1e6 if ops else math.nan,
                   errors=total["errors"], stalled=total["stalled"], partial=doc["partial"], notes=doc["notes"])


def alternate(tools: dict[str, Callable[[int], dict]], rounds: int, label: str, warmup: bool = True) -> list[dict]:
    """Run every tool once per round, the given order in odd rounds and the reverse in even ones
    (A B, B A, A B, ...), so that neither always follows the other; each callable gets the round
    number and returns a record. With `warmup`, the first tool runs once before round 1 and its
    figures are dropped: the first run after an idle cluster (or another kind of load) was up to
    1.5 × faster than the rounds after it, whichever tool it was. Progress goes to stderr."""
    records = []
    if warmup:
        first, run_first = next(iter(tools.items()))
        print(f"  {label} warm-up    {first:<10} {run_first(0)['iops']:>14,.0f} ops/s  (dropped)", file=sys.stderr)
    for rnd in range(1, rounds + 1):
        order = list(tools.items()) if rnd % 2 else list(reversed(tools.items()))
        for name, run in order:
            rec = {**run(rnd), "round": rnd}
            print(f"  {label} round {rnd} {name:<10} {rec['iops']:>14,.0f} ops/s  "
                  f"{rec['cpu_us_per_op']:8.2f} CPU µs/op", file=sys.stderr)
            records.append(rec)
    return records


def of_tool(records: list[dict], tool: str) -> list[dict]:
    """The records of one tool, in round order."""
    return [r for r in records if r["tool"] == tool]


def median(records: list[dict], key: str) -> float:
    """Median of a figure over rounds (NaN-free values only; NaN when there are none)."""
    values = [r[key] for r in records if key in r and not math.isnan(r[key])]
    return statistics.median(values) if values else math.nan


def ratios(records: list[dict], key: str, tool: str, baseline: str) -> list[float]:
    """Per round: tool's figure / baseline's figure, over rounds where both are non-zero numbers."""
    base = {r["round"]: r[key] for r in of_tool(records, baseline) if r[key] and not math.isnan(r[key])}
    return [r[key] / base[r["round"]] for r in of_tool(records, tool)
            if r["round"] in base and not math.isnan(r[key])]


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A plain fixed-width table; floats get thousands separators, NaN shows as '-'."""
    def cell(v) -> str:
        if isinstance(v, float):
            return "-" if math.isnan(v) else f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
        return str(v)
    cells = [headers] + [[cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in cells)


def ratio_text(name: str, values: list[float]) -> str:
    """'name r1, r2, r3 (median m)' with ratios to two decimals."""
    shown = ", ".join(f"{v:.2f}" for v in values)
    return f"{name} {shown} (median {statistics.median(values):.2f})" if values else f"{name} -"


def save_json(path: str | None, doc: dict) -> None:
    """Write the raw figures (and the settings that produced them) when --json-out was given."""
    if path:
        Path(path).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {path}")
