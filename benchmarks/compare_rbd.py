"""Compare `chopsticks bench rbd` with fio's rbd engine (and optionally `rbd bench`) on one image:
same block size, queue depth and processes, tools alternated round by round, client CPU per op
measured around each run. Prints medians and the ratios of chopsticks to each other tool.

    .venv/bin/python benchmarks/compare_rbd.py --rw randwrite,randread --rounds 3 --rbd-bench
"""
from __future__ import annotations

import argparse
import math
import re
import sys

from _common import (ToolFailed, alternate, ceph_env, median, of_tool, ratio_text, ratios, record, run_chopsticks,
                     run_fio, run_measured, save_json, table, use_lab)
from chopsticks.units import parse_size

RBD_BENCH_IO = {"randwrite": ("write", "rand"), "randread": ("read", "rand"),
                "write": ("write", "seq"), "read": ("read", "seq")}
RBD_BENCH_RESULT = re.compile(r"elapsed:\s*\S+\s+ops:\s*(\d+)\s+ops/sec:\s*([\d.]+)")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lab-dir", help="lab to use when --conf is not given (default: chopsticks' lab directory)")
    p.add_argument("--conf", help="ceph.conf (default: the running chopsticks lab's)")
    p.add_argument("--keyring", help="keyring (default: the lab's, else the one the conf names)")
    p.add_argument("--id", default="admin", help="Ceph client id")
    p.add_argument("--pool", help="pool (default: the lab's, else rbd)")
    p.add_argument("--image", help="image (default: the lab's, else test)")
    p.add_argument("--bs", default="4k")
    p.add_argument("--iodepth", type=int, default=16, help="per process")
    p.add_argument("--procs", type=int, default=1, help="chopsticks --procs = fio numjobs")
    p.add_argument("--duration", type=int, default=10, help="seconds per run")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--rw", default="randwrite,randread", help="comma-separated fio/chopsticks rw modes")
    p.add_argument("--fio-direct", action="store_true",
                   help="add fio with direct=1 (rbd_cache=false): without it fio's rbd engine flushes once after "
                        "opening the image, which turns on librbd's write-around cache")
    p.add_argument("--pin", default="process",
                   help="chopsticks --pin mode(s), comma-separated to compare them: process,thread,none")
    p.add_argument("--rbd-cache", action="store_true",
                   help="run chopsticks with --rbd-cache (flush after open, like plain fio and rbd bench)")
    p.add_argument("--rbd-bench", action="store_true",
                   help="add `rbd bench` (one process, io-threads = iodepth × procs, io-total sized from the "
                        "latest fio run's IOPS × duration)")
    p.add_argument("--pin-fio", metavar="CPUS",
                   help="run fio and rbd bench under taskset -c CPUS (chopsticks pins each worker, and so its "
                        "librados threads, to one CPU)")
    p.add_argument("--rate", type=int,
                   help="ops/s over all processes for both tools (fio rate_iops per job, chopsticks --rate): CPU "
                        "per op at the same offered load, apart from how much a faster run batches its completions")
    p.add_argument("--no-precondition", dest="precondition", action="store_false",
                   help="skip filling the image once with 4 MiB sequential writes before the rounds")
    p.add_argument("--json-out", help="save every run's figures here")
    return p.parse_args()


def resolve_target(args) -> None:
    """Fill conf/keyring/pool/image from the running lab unless --conf was given; exit if neither."""
    lab = use_lab(args)
    if lab:
        args.pool, args.image = args.pool or lab.pool, args.image or lab.image
    args.pool, args.image = args.pool or "rbd", args.image or "test"


def fio_rbd(args, **options) -> dict:
    """One fio run with ioengine=rbd on the target image."""
    base = {"ioengine": "rbd", "clientname": args.id, "pool": args.pool, "rbdname": args.image}
    return run_fio({**base, **options}, ceph_env(args), args.pin_fio)


def precondition(args) -> None:
    """Write the whole image once, so every tool reads and overwrites existing objects."""
    rec = fio_rbd(args, rw="write", bs="4M", iodepth=4)
    print(f"preconditioned {args.pool}/{args.image}: {rec['ops'] * 4} MiB written in {rec['wall_s']:.1f}s")


def tools_for(args, rw: str, bs: int) -> dict:
    """The runs of one round for one rw mode, in the order they alternate."""
    fio_iops = {}
    job = {"rw": rw, "bs": bs, "iodepth": args.iodepth, "numjobs": args.procs, "time_based": 1,
           "runtime": args.duration}
    rate = ["--rate", str(args.rate)] if args.rate else []
    if args.rate:
        job["rate_iops"] = max(1, args.rate // args.procs)

    def fio(rnd: int) -> dict:
        rec = fio_rbd(args, **job)
        fio_iops[rnd] = rec["iops"]
        return rec

    def fio_direct(rnd: int) -> dict:
        return {**fio_rbd(args, **job, direct=1), "tool": "fio direct=1"}

    def chopsticks(pin: str):
        def run(rnd: int) -> dict:
            cmd = ["rbd", "--conf", args.conf, "--id", args.id, "--pool", args.pool, "--image", args.image,
                   "--bs", str(bs), "--iodepth", str(args.iodepth), "--procs", str(args.procs), "--pin", pin,
                   "--rw", rw, "--duration", f"{args.duration}s", "--no-save", *rate] + (["--rbd-cache"] if args.rbd_cache else [])
            rec = run_chopsticks(cmd + (["--keyring", args.keyring] if args.keyring else []))
            return {**rec, "tool": "chopsticks" if len(pins) == 1 else f"chopsticks pin={pin}"}
        return run

    def rbd_bench(rnd: int) -> dict:
        io_type, pattern = RBD_BENCH_IO[rw]
        io_total = max(1, round(fio_iops[max(fio_iops)] * args.duration)) * bs     # fio's latest (even rounds run it last)
        cmd = ["rbd", "bench", "--io-type", io_type, "--io-pattern", pattern, "--io-size", str(bs),
               "--io-threads", str(args.iodepth * args.procs), "--io-total", str(io_total),
               f"{args.pool}/{args.image}"]
        out, wall, cpu = run_measured(cmd, ceph_env(args), args.pin_fio)
        ops, iops = RBD_BENCH_RESULT.search(out).groups()
        return record("rbd bench", int(ops), float(iops), math.nan, math.nan, wall, cpu)

    tools = {"fio": fio}
    if args.fio_direct:
        tools["fio direct=1"] = fio_direct
    pins = args.pin.split(",")
    for pin in pins:
        tools["chopsticks" if len(pins) == 1 else f"chopsticks pin={pin}"] = chopsticks(pin)
    if args.rbd_bench:
        tools["rbd bench"] = rbd_bench
    return tools


MEDIAN_COLUMNS = {"iops": "IOPS (median)", "lat_p50_us": "p50 µs", "lat_p99_us": "p99 µs",
                  "cpu_us_per_op": "CPU µs/op", "worker_cpu_us_per_op": "worker CPU µs/op"}
RATIO_FIGURES = (("iops", "IOPS"), ("lat_p99_us", "p99"), ("cpu_us_per_op", "CPU µs/op"))


def report(rw: str, records: list[dict]) -> str:
    """Medians per tool, then per-round ratios of chopsticks to each other tool, then any
    chopsticks run with errors, stalled ops or a partial result."""
    tools = list(dict.fromkeys(r["tool"] for r in records))
    rows = [[tool, rw, *(median(of_tool(records, tool), key) for key in MEDIAN_COLUMNS),
             " ".join(f"{r['iops']:,.0f}" for r in of_tool(records, tool))] for tool in tools]
    lines = [table(["tool", "rw", *MEDIAN_COLUMNS.values(), "IOPS per round"], rows)]
    ours = [t for t in tools if t.startswith("chopsticks")]
    for tool in ours:
        for base in (t for t in tools if t not in ours):
            lines.append(f"{tool}/{base} per round: " + "; ".join(
                ratio_text(name, ratios(records, key, tool, base)) for key, name in RATIO_FIGURES))
        lines += [f"{tool} round {r['round']}: {r['errors']} errors, {r['stalled']} stalled"
                  + (f", PARTIAL: {'; '.join(r['notes'])}" if r["partial"] else "")
                  for r in of_tool(records, tool) if r["errors"] or r["stalled"] or r["partial"]]
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    resolve_target(args)
    rws = args.rw.split(",")
    if args.rbd_bench and not set(rws) <= RBD_BENCH_IO.keys():
        sys.exit(f"rbd bench covers only {', '.join(RBD_BENCH_IO)}; drop --rbd-bench for the others")
    bs = parse_size(args.bs, "--bs")
    if args.precondition:
        precondition(args)
    results = {}
    try:
        for rw in rws:
            results[rw] = [{**rec, "rw": rw} for rec in alternate(tools_for(args, rw, bs), args.rounds, rw)]
    except ToolFailed as e:
        sys.exit(str(e))
    print(f"\n{args.pool}/{args.image}, bs {bs} B, iodepth {args.iodepth}, procs {args.procs}, "
          f"{args.duration}s × {args.rounds} rounds, fio pinned to {args.pin_fio or 'nothing'}, "
          f"{f'rate {args.rate:,} ops/s' if args.rate else 'closed loop'}; "
          "CPU µs/op = user+sys of the whole process tree / ops")
    for rw, records in results.items():
        print("\n" + report(rw, records))
    save_json(args.json_out, {"settings": vars(args), "runs": results})


if __name__ == "__main__":
    main()
