"""Compare `chopsticks bench rados` with `rados bench` and fio's rados engine on one pool: same
object size, queue depth and processes, tools alternated round by round, client CPU per op
measured around each run. Prints medians and the ratios of chopsticks to each other tool.

    .venv/bin/python benchmarks/compare_rados.py --mode write,rand --rounds 3

Modes are rados bench's: `write` (whole objects, one after the other over the object set) and
`rand` (reads of whole objects picked at random, written beforehand). rados bench runs one process
with -t = iodepth × procs; fio runs `numjobs` = procs, each over its own `--objects` objects
(one fio "file" per object); chopsticks runs --procs workers, each over its own --objects objects.
"""
from __future__ import annotations

import argparse
import re
import sys

from _common import (ToolFailed, alternate, ceph_env, median, of_tool, ratio_text, ratios, record, run_chopsticks,
                     run_fio, run_measured, save_json, table, use_lab)
from chopsticks.units import parse_size

RUN_NAME = "chopsticks-compare"     # rados bench's objects and metadata, removed at the end
RADOS_BENCH_OPS = re.compile(r"Total (?:writes|reads) made:\s*(\d+)")
RADOS_BENCH_IOPS = re.compile(r"Average IOPS:\s*([\d.]+)")
RADOS_BENCH_LAT = re.compile(r"Average Latency\(s\):\s*([\d.]+)")
FIO_RW = {"write": ("write", "sequential"), "rand": ("read", "random")}
CHOPSTICKS_OP = {"write": ("write", "seq"), "rand": ("read", "rand")}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lab-dir", help="lab to use when --conf is not given (default: chopsticks' lab directory)")
    p.add_argument("--conf", help="ceph.conf (default: the running chopsticks lab's)")
    p.add_argument("--keyring", help="keyring (default: the lab's, else the one the conf names)")
    p.add_argument("--id", default="admin", help="Ceph client id")
    p.add_argument("--pool", default="chopsticks-compare", help="pool, created (tagged 'rados') when missing")
    p.add_argument("--size", default="4k", help="object size")
    p.add_argument("--objects", type=int, default=1024, help="objects per process (fio, chopsticks)")
    p.add_argument("--iodepth", type=int, default=16, help="per process")
    p.add_argument("--procs", type=int, default=1, help="chopsticks --procs = fio numjobs; rados bench -t iodepth × procs")
    p.add_argument("--duration", type=int, default=10, help="seconds per run")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--mode", default="write,rand", help="comma-separated: write, rand")
    p.add_argument("--json-out", help="save every run's figures here")
    return p.parse_args()


def chopsticks_args(args, *extra: str) -> list[str]:
    return ["rados", "--conf", args.conf, "--id", args.id, "--pool", args.pool, "--size", str(args.size_b),
            "--objects", str(args.objects), "--iodepth", str(args.iodepth), "--procs", str(args.procs),
            "--no-save", *(["--keyring", args.keyring] if args.keyring else []), *extra]


def prepare(args) -> None:
    """Create the pool (through chopsticks), and write the objects rados bench `rand` and fio read."""
    run_chopsticks(chopsticks_args(args, "--create-pool", "--duration", "1s"))
    if "rand" in args.modes:
        run_measured(["rados", "-p", args.pool, "bench", str(max(3, args.duration // 2)), "write", "-t",
                      str(args.iodepth * args.procs), "-b", str(args.size_b), "--no-cleanup", "--run-name", RUN_NAME],
                     ceph_env(args))
        run_fio(fio_job(args, "write"), ceph_env(args))
    print(f"prepared pool {args.pool}")


def fio_job(args, mode: str) -> dict:
    rw, service = FIO_RW[mode]
    return {"ioengine": "rados", "conf": args.conf, "clientname": args.id, "pool": args.pool,
            "bs": args.size_b, "filesize": args.size_b, "nrfiles": args.objects, "size": args.objects * args.size_b,
            "file_service_type": service, "rw": rw, "iodepth": args.iodepth, "numjobs": args.procs,
            "time_based": 1, "runtime": args.duration}


def tools_for(args, mode: str) -> dict:
    """The runs of one round for one mode, in the order they alternate."""
    def fio(rnd: int) -> dict:
        return run_fio(fio_job(args, mode), ceph_env(args))

    def rados_bench(rnd: int) -> dict:
        cmd = ["rados", "-p", args.pool, "bench", str(args.duration), mode, "-t", str(args.iodepth * args.procs),
               "--run-name", RUN_NAME] + (["-b", str(args.size_b), "--no-cleanup"] if mode == "write" else [])
        out, wall, cpu = run_measured(cmd, ceph_env(args))
        ops, iops = int(RADOS_BENCH_OPS.search(out).group(1)), float(RADOS_BENCH_IOPS.search(out).group(1))
        return record("rados bench", ops, iops, float("nan"), float("nan"), wall, cpu,
                      lat_mean_us=float(RADOS_BENCH_LAT.search(out).group(1)) * 1e6)

    def chopsticks(rnd: int) -> dict:
        op, access = CHOPSTICKS_OP[mode]
        return run_chopsticks(chopsticks_args(args, "--op", op, "--access", access, "--duration", f"{args.duration}s"))

    return {"rados bench": rados_bench, "fio": fio, "chopsticks": chopsticks}


MEDIAN_COLUMNS = {"iops": "IOPS (median)", "lat_p50_us": "p50 µs", "lat_p99_us": "p99 µs",
                  "cpu_us_per_op": "CPU µs/op", "worker_cpu_us_per_op": "worker CPU µs/op"}
RATIO_FIGURES = (("iops", "IOPS"), ("cpu_us_per_op", "CPU µs/op"))


def report(mode: str, records: list[dict]) -> str:
    """Medians per tool, then per-round ratios of chopsticks to each other tool."""
    tools = list(dict.fromkeys(r["tool"] for r in records))
    rows = [[tool, mode, *(median(of_tool(records, tool), key) for key in MEDIAN_COLUMNS),
             " ".join(f"{r['iops']:,.0f}" for r in of_tool(records, tool))] for tool in tools]
    lines = [table(["tool", "mode", *MEDIAN_COLUMNS.values(), "IOPS per round"], rows)]
    for base in (t for t in tools if t != "chopsticks"):
        lines.append(f"chopsticks/{base} per round: " + "; ".join(
            ratio_text(name, ratios(records, key, "chopsticks", base)) for key, name in RATIO_FIGURES))
    lines += [f"chopsticks round {r['round']}: {r['errors']} errors, {r['stalled']} stalled"
              + (f", PARTIAL: {'; '.join(r['notes'])}" if r["partial"] else "")
              for r in of_tool(records, "chopsticks") if r["errors"] or r["stalled"] or r["partial"]]
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    use_lab(args)
    args.modes = args.mode.split(",")
    if not set(args.modes) <= FIO_RW.keys():
        sys.exit(f"modes are {', '.join(FIO_RW)}, got {args.mode}")
    args.size_b = parse_size(args.size, "--size")
    results = {}
    try:
        prepare(args)
        for mode in args.modes:
            results[mode] = [{**rec, "mode": mode} for rec in alternate(tools_for(args, mode), args.rounds, mode)]
    except ToolFailed as e:
        sys.exit(str(e))
    finally:
        run_measured(["rados", "-p", args.pool, "cleanup", "--run-name", RUN_NAME], ceph_env(args))
    print(f"\npool {args.pool}, objects of {args.size_b} B, iodepth {args.iodepth}, procs {args.procs}, "
          f"{args.duration}s × {args.rounds} rounds; CPU µs/op = user+sys of the whole process tree / ops "
          "(chopsticks: its prefill included for rand; worker CPU leaves it out)")
    for mode, records in results.items():
        print("\n" + report(mode, records))
    save_json(args.json_out, {"settings": {k: v for k, v in vars(args).items()}, "runs": results})


if __name__ == "__main__":
    main()
