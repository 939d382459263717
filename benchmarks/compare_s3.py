"""Compare S3 clients on one endpoint, small PUT and GET: chopsticks' compiled client (`native`),
boto3 (chopsticks' Boto3Driver, one client per thread) and s5cmd's batch mode (`s5cmd run` on a
file of `cp` commands), alternated round by round. Prints ops/s, latency and client CPU per op,
and how many more ops per client CPU-second native does than each (targets: ≥ 10 × s5cmd and
≥ 40 × boto3 over http; ≥ 10 × s5cmd and ≥ 20 × boto3 over https).

    .venv/bin/python benchmarks/compare_s3.py --lab-dir /tmp/labBench --rounds 3
    .venv/bin/python benchmarks/compare_s3.py --lab-dir /tmp/labBench --rounds 3 --https

--https uses the lab's HTTPS endpoint (s3_tls_config.yaml), each tool verifying the certificate
against the lab's CA. --single-object compares large objects instead: each round, native (one
connection, one request) and `s5cmd cp` (its own multipart upload and parallel ranged GETs) PUT
one object of --size and GET one; the figure is MiB per client CPU-second (target ≥ 1.0 × s5cmd).

    .venv/bin/python benchmarks/compare_s3.py --lab-dir /tmp/labBench --single-object --size 1G

Client CPU is user+sys: for native and boto3 the RUSAGE_SELF delta around the timed loop in this
process (imports and connection set-up excluded), for s5cmd the RUSAGE_CHILDREN delta around
`s5cmd run` (its start-up included, once per batch).
"""
from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np
from _common import ToolFailed, alternate, median, of_tool, ratio_text, ratios, record, run_measured, save_json, table
from chopsticks._fast import s3_loop
from chopsticks._fast.histogram import CONSTANTS
from chopsticks.config import load_s3_config
from chopsticks.drivers.s3.boto3_driver import Boto3Driver
from chopsticks.drivers.s3.native_driver import NativeDriver, canonical_query
from chopsticks.drivers.s3.s5cmd_driver import find_s5cmd
from chopsticks.lab import find_running
from chopsticks.metrics.histogram import percentiles_ns
from chopsticks.units import parse_size

TARGETS = {"http": {"s5cmd": 10.0, "boto3": 40.0}, "https": {"s5cmd": 10.0, "boto3": 20.0}}
SINGLE_OBJECT_TARGET = 1.0          # native / s5cmd, MiB per client CPU-second
GET_OBJECTS = 64                    # shared objects boto3 and s5cmd read; native reads its own
PREFIX = f"compare-s3/{int(time.time())}"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lab-dir", help="lab whose s3_config.yaml to use (default: the running chopsticks lab)")
    p.add_argument("--workload-config", help="S3 workload YAML (overrides the lab's)")
    p.add_argument("--size", default="4k", help="object size")
    p.add_argument("--concurrency", type=int, default=16, help="native connections = boto3 threads = s5cmd --numworkers")
    p.add_argument("--duration", type=float, default=5.0, help="seconds per native and boto3 run")
    p.add_argument("--s5cmd-ops", type=int, default=1000, help="cp commands per s5cmd run")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--ops", default="put,get", help="comma-separated: put, get")
    p.add_argument("--quickack", action="store_true", help="add native with TCP_QUICKACK (no small-GET stall)")
    p.add_argument("--https", action="store_true", help="the lab's HTTPS endpoint (its s3_tls_config.yaml)")
    p.add_argument("--single-object", action="store_true", help="one large object per run (--size 1G): MiB/s")
    p.add_argument("--json-out", help="save every run's figures here")
    return p.parse_args()


def driver_config(args) -> dict:
    if args.workload_config:
        return load_s3_config(args.workload_config).as_driver_dict()
    lab = find_running(args.lab_dir)
    if lab is None:
        sys.exit("no running chopsticks lab found and no --workload-config given; this script starts none "
                 "(chopsticks lab up --dir DIR, then --lab-dir DIR)")
    print(f"using the lab in {lab.dir}")
    if args.https and lab.s3_tls_config is None:
        sys.exit(f"the lab in {lab.dir} serves no HTTPS (made before labs did); restart it")
    return load_s3_config(lab.s3_tls_config if args.https else lab.s3_config).as_driver_dict()


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_native(config: dict, op: str, args, size: int, quickack: bool) -> dict:
    """S3Load.run in this process for --duration seconds: the loop `bench s3 --driver native` runs."""
    driver = NativeDriver({**config, "driver_config": {**tls_config(config), "tcp_quickack": quickack}})
    prefix = f"{PREFIX}/native-{time.monotonic_ns()}/"
    client = driver.new_client(connections=args.concurrency)
    if client.connect():
        raise ToolFailed("native: cannot connect")
    load = s3_loop.S3Load(client, base=driver.path(prefix), bucket_path=driver.path(None),
                          list_query=canonical_query({"list-type": "2", "prefix": prefix}), size_min=size,
                          size_max=size, seed=1)
    if op == "get":
        load.prefill(GET_OBJECTS // args.concurrency + 1)
    out, op_hist, wall, cpu, errors = timed_run(load, op, 2**63 - 1, args.duration)
    load.cleanup()
    client.close()
    p50, p99 = percentiles_ns(op_hist, (50.0, 99.0))
    return record("native quickack" if quickack else "native", out["completed"], out["completed"] / wall,
                  p50 / 1e3, p99 / 1e3, wall, cpu, errors=errors)


def timed_run(load, op: str, ops_limit: int, duration_s: float) -> tuple[dict, np.ndarray, float, float, int]:
    """S3Load.run of op for duration_s seconds or ops_limit ops: its counters, the op's histogram,
    wall and CPU seconds (this process, user+sys) and failed operations."""
    n_ops, nbuckets, phases = len(s3_loop.OP_NAMES), CONSTANTS["nbuckets"], CONSTANTS["n_phases"]
    hist = np.zeros(phases * n_ops * nbuckets, np.uint64)
    ts = np.zeros((int(duration_s) + 40) * n_ops * CONSTANTS["ts_fields"], np.int64)
    errors = np.zeros(phases * n_ops * CONSTANTS["err_codes"], np.int64)
    index = s3_loop.OP_NAMES.index(op)
    start = time.monotonic_ns()
    spec = {"n_ops": n_ops, "n_target_ops": n_ops, "start_ns": start, "ramp_end_ns": start, "ops_limit": ops_limit,
            "deadline_ns": start + int(duration_s * 1e9), "op_timeout_ns": 30 * 10**9,
            "max_inflight": 2**31 - 1,     # the connections are the cap: one request each
            "seed": 1, "rate": 0.0, "arrivals": 0, "first_due_ns": 0.0, "mix": [(index, 1)]}
    cpu0, t0 = cpu_seconds(resource.RUSAGE_SELF), time.monotonic()
    out = load.run(hist, ts, errors, np.zeros(1, np.int64), spec)
    wall, cpu = time.monotonic() - t0, cpu_seconds(resource.RUSAGE_SELF) - cpu0
    return out, hist.reshape(phases, n_ops, nbuckets)[:, index].sum(axis=0), wall, cpu, int(errors.sum())


def run_native_single(config: dict, op: str, size: int, key: str) -> dict:
    """One PUT of a new object of size bytes, or one GET of key, on one connection."""
    driver = NativeDriver({**config, "driver_config": tls_config(config)})
    client = driver.new_client(connections=1)
    if client.connect():
        raise ToolFailed("native: cannot connect")
    prefix = f"{PREFIX}/native-{time.monotonic_ns()}/"
    load = s3_loop.S3Load(client, base=driver.path(prefix), bucket_path=driver.path(None), list_query=b"",
                          size_min=size, size_max=size, seed=1)
    if op == "get":
        encoded = quote(key, safe="/~").encode()
        load.use_existing(encoded, np.array([len(encoded)], np.uint64))
    _, _, wall, cpu, errors = timed_run(load, op, 1, 3600)
    if op == "put":
        load.cleanup()
    client.close()
    return single_record("native", size, wall, cpu, errors)


def run_s5cmd_single(config: dict, op: str, payload_file: Path, key: str) -> dict:
    """`s5cmd cp` of the payload file to a new key (removed after, untimed: the lab's OSD holds a
    few GiB), or of key to a file in /dev/shm."""
    s5cmd = [find_s5cmd(), "--endpoint-url", config["endpoint"]]
    with tempfile.TemporaryDirectory(prefix="compare-s5cmd-", dir="/dev/shm") as tmp:
        if op == "put":
            url = f"s3://{config['bucket']}/{PREFIX}/s5cmd-{time.monotonic_ns()}"
            _, wall, cpu = run_measured([*s5cmd, "cp", str(payload_file), url], env=s5cmd_env(config))
            run_measured([*s5cmd, "rm", url], env=s5cmd_env(config))
        else:
            _, wall, cpu = run_measured([*s5cmd, "cp", f"s3://{config['bucket']}/{key}", f"{tmp}/object"],
                                        env=s5cmd_env(config))
    return single_record("s5cmd", payload_file.stat().st_size, wall, cpu, 0)


def single_record(tool: str, size: int, wall: float, cpu: float, errors: int) -> dict:
    mib = size / 2**20
    return record(tool, 1, 1 / wall, math.nan, math.nan, wall, cpu, errors=errors, mib_s=mib / wall,
                  mib_per_cpu_s=mib / cpu if cpu else math.nan)


def run_boto3(config: dict, op: str, args, payload: bytes, get_keys: list[str], written: list[str]) -> dict:
    """--concurrency threads, each with its own Boto3Driver, for --duration seconds."""
    drivers = [Boto3Driver({**config, "driver": "boto3", "driver_config": tls_config(config)})
               for _ in range(args.concurrency)]
    latencies: list[list[float]] = [[] for _ in drivers]
    failures = [0]
    deadline = time.monotonic() + args.duration

    def loop(t: int) -> None:
        d, n = drivers[t], 0
        while time.monotonic() < deadline:
            n += 1
            t0 = time.perf_counter()
            if op == "put":
                key = f"{PREFIX}/boto3-{t}-{time.monotonic_ns()}-{n}"
                ok = d.upload(key, payload)
                written.append(key)
            else:
                ok = d.download(get_keys[(t * 7919 + n) % len(get_keys)]) is not None
            latencies[t].append(time.perf_counter() - t0)
            failures[0] += not ok

    threads = [threading.Thread(target=loop, args=(t,)) for t in range(args.concurrency)]
    cpu0, t0 = cpu_seconds(resource.RUSAGE_SELF), time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall, cpu = time.monotonic() - t0, cpu_seconds(resource.RUSAGE_SELF) - cpu0
    for d in drivers:
        d.close()
    lat = sorted(x for per in latencies for x in per)
    return record("boto3", len(lat), len(lat) / wall, statistics.median(lat) * 1e6,
                  lat[int(len(lat) * 0.99)] * 1e6, wall, cpu, errors=failures[0])


def run_s5cmd(config: dict, op: str, args, payload_file: Path, get_keys: list[str], written: list[str]) -> dict:
    """`s5cmd --numworkers C run FILE` with --s5cmd-ops cp commands; no latency is reported."""
    bucket, env = config["bucket"], s5cmd_env(config)
    with tempfile.TemporaryDirectory(prefix="compare-s5cmd-", dir="/dev/shm") as tmp:
        if op == "put":
            keys = [f"{PREFIX}/s5cmd-{time.monotonic_ns()}-{i}" for i in range(args.s5cmd_ops)]
            lines = [f"cp {payload_file} s3://{bucket}/{key}" for key in keys]
            written.extend(keys)
        else:
            lines = [f"cp s3://{bucket}/{get_keys[i % len(get_keys)]} {tmp}/{i}" for i in range(args.s5cmd_ops)]
        commands = Path(tmp) / "commands"
        commands.write_text("\n".join(lines) + "\n")
        cmd = [find_s5cmd(), "--endpoint-url", config["endpoint"], "--numworkers", str(args.concurrency),
               "run", str(commands)]
        _, wall, cpu = run_measured(cmd, env=env)
    return record("s5cmd", args.s5cmd_ops, args.s5cmd_ops / wall, float("nan"), float("nan"), wall, cpu, errors=0)


def s5cmd_env(config: dict) -> dict[str, str]:
    """s5cmd's environment: the config's keys and region, and its CA bundle for https."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": config["access_key"], "AWS_SECRET_ACCESS_KEY": config["secret_key"],
           "AWS_REGION": config["region"]}
    env.pop("AWS_PROFILE", None)
    if "ca_bundle" in config["driver_config"]:
        env["AWS_CA_BUNDLE"] = config["driver_config"]["ca_bundle"]
    return env


def tls_config(config: dict) -> dict:
    """The driver_config keys that say how to verify the endpoint's certificate."""
    return {k: v for k, v in config["driver_config"].items() if k in ("ca_bundle", "verify")}


def report(op: str, records: list[dict], targets: dict[str, float]) -> str:
    tools = list(dict.fromkeys(r["tool"] for r in records))
    rows = [[tool, op, median(of_tool(records, tool), "iops"), median(of_tool(records, tool), "lat_p50_us"),
             median(of_tool(records, tool), "lat_p99_us"), median(of_tool(records, tool), "cpu_us_per_op"),
             1e6 / median(of_tool(records, tool), "cpu_us_per_op"),
             " ".join(f"{r['iops']:,.0f}" for r in of_tool(records, tool))] for tool in tools]
    lines = [table(["tool", "op", "ops/s (median)", "p50 µs", "p99 µs", "CPU µs/op", "ops per CPU-s",
                    "ops/s per round"], rows)]
    for base, target in targets.items():
        per_round = ratios(records, "cpu_us_per_op", base, "native")
        verdict = "met" if per_round and statistics.median(per_round) >= target else "NOT met"
        lines.append(ratio_text(f"native/{base} ops per CPU-s per round", per_round)
                     + f"; target ≥ {target:g}: {verdict}")
    lines += [f"{r['tool']} round {r['round']}: {r['errors']} failed ops" for r in records if r["errors"]]
    return "\n".join(lines)


def report_single(op: str, records: list[dict]) -> str:
    tools = list(dict.fromkeys(r["tool"] for r in records))
    rows = [[tool, op, median(of_tool(records, tool), "mib_s"), median(of_tool(records, tool), "mib_per_cpu_s"),
             " ".join(f"{r['mib_s']:,.0f}" for r in of_tool(records, tool))] for tool in tools]
    per_round = ratios(records, "mib_per_cpu_s", "native", "s5cmd")
    verdict = "met" if per_round and statistics.median(per_round) >= SINGLE_OBJECT_TARGET else "NOT met"
    return "\n".join([table(["tool", "op", "MiB/s (median)", "MiB per CPU-s", "MiB/s per round"], rows),
                      ratio_text("native/s5cmd MiB per CPU-s per round", per_round)
                      + f"; target ≥ {SINGLE_OBJECT_TARGET:g}: {verdict}"])


def main_single_object(args, config: dict, size: int) -> None:
    """Large objects: one PUT and one GET per tool and round; the GETs read one object written first."""
    helper = NativeDriver({**config, "driver_config": tls_config(config)})
    key, results = f"{PREFIX}/large-{size}", {}
    with tempfile.NamedTemporaryFile(prefix="compare-payload-", dir="/dev/shm") as payload_file:
        with open("/dev/urandom", "rb") as random:
            for offset in range(0, size, 16 << 20):
                payload_file.write(random.read(min(16 << 20, size - offset)))
        payload_file.flush()
        payload = Path(payload_file.name)
        try:
            run_measured([find_s5cmd(), "--endpoint-url", config["endpoint"], "cp", str(payload),
                          f"s3://{config['bucket']}/{key}"], env=s5cmd_env(config))
            for op in args.ops.split(","):
                tools = {"native": lambda rnd, op=op: run_native_single(config, op, size, key),
                         "s5cmd": lambda rnd, op=op: run_s5cmd_single(config, op, payload, key)}
                results[op] = [{**rec, "op": op} for rec in alternate(tools, args.rounds, op)]
        except (ToolFailed, subprocess.SubprocessError) as e:
            sys.exit(str(e))
        finally:
            helper.delete(key)
    print(f"\n{config['endpoint']}, one {size / 2**20:,.0f} MiB object per run, {args.rounds} rounds; "
          "MiB per CPU-s = object MiB / client user+sys seconds")
    for op, records in results.items():
        print("\n" + report_single(op, records))
    save_json(args.json_out, {"settings": vars(args), "runs": results})


def main() -> None:
    args = parse_args()
    config = driver_config(args)
    size = parse_size(args.size, "--size")
    if args.single_object:
        return main_single_object(args, config, size)
    payload = os.urandom(size)
    helper = NativeDriver({**config, "driver_config": tls_config(config)})
    get_keys = [f"{PREFIX}/get-{i}" for i in range(GET_OBJECTS)]
    if not all(helper.upload(key, payload) for key in get_keys):
        sys.exit(f"cannot write the objects to read: {helper.last_error}")
    written: list[str] = []
    results = {}
    with tempfile.NamedTemporaryFile(prefix="compare-payload-", dir="/dev/shm") as payload_file:
        payload_file.write(payload)
        payload_file.flush()
        try:
            for op in args.ops.split(","):
                tools = {"native": lambda rnd, op=op: run_native(config, op, args, size, False),
                         "boto3": lambda rnd, op=op: run_boto3(config, op, args, payload, get_keys, written),
                         "s5cmd": lambda rnd, op=op: run_s5cmd(config, op, args, Path(payload_file.name), get_keys,
                                                               written)}
                if args.quickack:
                    tools["native quickack"] = lambda rnd, op=op: run_native(config, op, args, size, True)
                results[op] = [{**rec, "op": op} for rec in alternate(tools, args.rounds, op)]
        except (ToolFailed, subprocess.SubprocessError) as e:
            sys.exit(str(e))
        finally:
            for key in written + get_keys:
                helper.delete(key)
    print(f"\n{config['endpoint']}, {size} B objects, concurrency {args.concurrency}, native/boto3 "
          f"{args.duration:g}s runs, s5cmd {args.s5cmd_ops} cp per run, {args.rounds} rounds; "
          "CPU µs/op = client user+sys / ops")
    for op, records in results.items():
        print("\n" + report(op, records, TARGETS["https" if args.https else "http"]))
    save_json(args.json_out, {"settings": vars(args), "runs": results})


if __name__ == "__main__":
    main()
