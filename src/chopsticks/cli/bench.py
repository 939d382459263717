"""`chopsticks bench`: raw-throughput saturation tests on the compiled engine."""
from __future__ import annotations

import dataclasses
from typing import Annotated, Optional

import typer

from chopsticks._fast.iogen import RW_MODES
from chopsticks._fast.payload import PATTERNS
from chopsticks.backends.block import BlockIo
from chopsticks.cli import common
from chopsticks.cli.common import (CsvOut, Duration, Iodepth, IoTotal, JsonOut, OpTimeout, Procs, ProgressMode, Quiet,
                                   Ramp, RunOptions, Seed, TsOut, size_option)

app = typer.Typer(help="Raw-throughput saturation tests on the compiled engine.", no_args_is_help=True)
SECTOR = 512                        # block I/O sizes are whole sectors, as for fio and rbd bench

Bs = Annotated[str, typer.Option("--bs", "-b", help="Block size per operation, a multiple of 512 bytes (4k, 64k, 4M).")]
Rw = Annotated[str, typer.Option("--rw", help="read | write | randread | randwrite | randrw | rw (sequential mix) | verify (write the range once, then read it back and check it).")]
Verify = Annotated[bool, typer.Option("--verify", help="Check every block read against its stamp (offset, check value) and against what this run wrote there.")]
VerifyAgainst = Annotated[Optional[str], typer.Option("--verify-against", help="PATH of an earlier run's JSON result: go on from its verify map (PATH with .verify.npz for .json, kept by a --verify run that wrote), so reads also catch stale blocks (older than its last write there) and lost ones (no stamp where it wrote). Implies --verify; same target, range, --procs and --seed as that run.")]
RwMixRead = Annotated[int, typer.Option("--rwmixread", min=0, max=100, help="% reads in randrw/rw.")]
Pattern = Annotated[str, typer.Option("--pattern", help="Write payload: random | zero | compressible:PCT (PCT% of each 4 KiB zero).")]
Offset = Annotated[str, typer.Option("--offset", help="First byte of the range to cover.")]
Span = Annotated[Optional[str], typer.Option("--span", help="Bytes of the range to cover (default: to the end).")]
CephConf = Annotated[Optional[str], typer.Option("--conf", "-c", help="ceph.conf (default: the running `chopsticks lab`, $CEPH_CONF, /etc/ceph/ceph.conf).")]
ClientId = Annotated[str, typer.Option("--id", help="Ceph client id (client.<id>).")]
Keyring = Annotated[Optional[str], typer.Option("--keyring", help="Keyring file (default: from the conf).")]
ConnectTimeout = Annotated[int, typer.Option("--connect-timeout", min=1, help="Seconds to wait for the cluster.")]


def _block_io(bs: str, rw: str, rwmixread: int, pattern: str, offset: str, span: Optional[str],
              verify: bool = False, verify_against: Optional[str] = None) -> BlockIo:
    if rw not in RW_MODES:
        raise typer.BadParameter(f"must be one of {', '.join(RW_MODES)}, got '{rw}'", param_hint="--rw")
    name, _, pct = pattern.partition(":")
    if name not in PATTERNS or (pct and name != "compressible"):
        raise typer.BadParameter(f"must be random, zero or compressible:PCT, got '{pattern}'", param_hint="--pattern")
    if name == "compressible" and pct and not (pct.isdigit() and 0 <= int(pct) <= 100):
        raise typer.BadParameter("compressible takes a percentage: compressible:50", param_hint="--pattern")
    block = size_option(bs, "--bs")
    if block % SECTOR:
        raise typer.BadParameter(f"must be a multiple of {SECTOR} bytes, got {block}", param_hint="--bs")
    verify = verify or rw == "verify" or verify_against is not None
    if verify and name == "zero":
        raise typer.BadParameter("--verify reads back the stamps of written blocks: --pattern zero writes none",
                                 param_hint="--pattern")
    return BlockIo(bs=block, rw=rw, rwmixread=rwmixread, pattern=name,
                   compressible_pct=int(pct) if pct else 50,
                   offset=0 if offset in ("0", "") else size_option(offset, "--offset"),
                   span=size_option(span, "--span"), verify=verify, verify_against=verify_against)


def _verify_parts(verify: bool, verify_against: Optional[str], cluster: Optional[str]) -> Optional[str]:
    """Where this run's workers leave their verify maps (with --verify), or None: a cluster run's
    workers are on other hosts, which --verify-against cannot read from nor keep a map of."""
    if cluster and verify_against:
        raise typer.BadParameter("the verify map is read on this host: leave out --cluster", param_hint="--verify-against")
    from chopsticks.backends.verify_map import new_parts_dir

    return new_parts_dir() if verify and not cluster else None


@app.command()
def rbd(
    pool: Annotated[str, typer.Option("--pool", help="RBD pool.")] = "rbd",
    image: Annotated[str, typer.Option("--image", help="RBD image (with --image-per-proc: prefix of <image>-<n>).")] = "test",
    conf: CephConf = None,
    client_id: ClientId = "admin",
    keyring: Keyring = None,
    image_per_proc: Annotated[bool, typer.Option("--image-per-proc", help="Worker n uses its own image <image>-<n>.")] = False,
    create: Annotated[Optional[str], typer.Option("--create", help="Create missing images of this size (e.g. 1G).")] = None,
    connect_timeout: ConnectTimeout = 10,
    rbd_cache: Annotated[bool, typer.Option("--rbd-cache/--no-rbd-cache", help="Flush once after open, as fio and rbd bench do, so librbd's cache runs in its configured mode (writes may complete before the OSDs ack). Default: off, writes complete when the OSDs ack (like fio direct=1).")] = False,
    bs: Bs = "4k", rw: Rw = "randwrite", rwmixread: RwMixRead = 50, pattern: Pattern = "random",
    offset: Offset = "0", span: Span = None, verify: Verify = False, verify_against: VerifyAgainst = None,
    pin: common.Pin = "process",
    procs: Procs = None, iodepth: Iodepth = 16, duration: Duration = None, io_total: IoTotal = None,
    ramp: Ramp = 0, seed: Seed = 1, op_timeout: OpTimeout = "30s",
    csv: CsvOut = None, timeseries_csv: TsOut = None, json: JsonOut = None, quiet: Quiet = False,
    prometheus: common.Prometheus = None, results_dir: common.ResultsDir = None, no_save: common.NoSave = False,
    cluster: common.Cluster = None, hosts: common.Hosts = None, wait_hosts: common.WaitHosts = "60s",
    progress: ProgressMode = "auto",
    rate: common.Rate = None, arrivals: common.Arrivals = "uniform", slo: common.Slo = None,
    step_duration: common.StepDuration = "10s", watch_cluster: common.WatchCluster = None,
) -> None:
    """Saturate an RBD image through librbd's C aio API: IOPS, MiB/s and the latency tail."""
    from chopsticks.backends.rbd import RbdTarget

    opts = RunOptions(procs, iodepth, duration, io_total, ramp, seed, op_timeout, csv, timeseries_csv, json, quiet,
                      progress).with_rate(rate, arrivals, slo, step_duration)
    opts = dataclasses.replace(opts.with_results(prometheus, results_dir, no_save), pin=pin)
    if rw == "verify" and duration is None:
        opts = dataclasses.replace(opts, runs_to_end=True)      # one pass writing, one reading: then done
    if conf is None:
        conf, default_keyring = common.default_ceph_conf()
        keyring = keyring or default_keyring
    io = _block_io(bs, rw, rwmixread, pattern, offset, span, verify, verify_against)
    target = RbdTarget(conf=conf, client_id=client_id, keyring=keyring or "", pool=pool, image=image,
                       io=io, image_per_proc=image_per_proc,
                       create_size=size_option(create, "--create"), connect_timeout_s=connect_timeout,
                       rbd_cache=rbd_cache, verify_parts=_verify_parts(io.verify, verify_against, cluster))
    opts = opts.with_cluster(cluster, hosts, wait_hosts)
    plan = opts.plan(target)
    common.execute(plan, opts,
                   common.cluster_watch(watch_cluster, conf, keyring or "", client_id))


@app.command()
def null(
    bs: Bs = "4k", rw: Rw = "randwrite", rwmixread: RwMixRead = 50,
    procs: Procs = None, iodepth: Iodepth = 1, duration: Duration = None, io_total: IoTotal = None,
    ramp: Ramp = 0, seed: Seed = 1,
    csv: CsvOut = None, timeseries_csv: TsOut = None, json: JsonOut = None, quiet: Quiet = False,
    prometheus: common.Prometheus = None, results_dir: common.ResultsDir = None, no_save: common.NoSave = False,
    cluster: common.Cluster = None, hosts: common.Hosts = None, wait_hosts: common.WaitHosts = "60s",
    progress: ProgressMode = "auto",
    rate: common.Rate = None, arrivals: common.Arrivals = "uniform", slo: common.Slo = None,
    step_duration: common.StepDuration = "10s",
) -> None:
    """No I/O: every op completes at once. Measures the engine's own ceiling per core."""
    from chopsticks.backends.null import NullTarget

    opts = RunOptions(procs, iodepth, duration, io_total, ramp, seed, "30s", csv, timeseries_csv, json, quiet,
                      progress).with_rate(rate, arrivals, slo, step_duration)
    opts = opts.with_results(prometheus, results_dir, no_save)
    opts = opts.with_cluster(cluster, hosts, wait_hosts)
    common.execute(opts.plan(NullTarget(io=_block_io(bs, rw, rwmixread, "random", "0", None))), opts)


S3_OP_CHOICES = ("put", "get", "delete", "head", "list", "mixed")


def _mix(op: str, mix: str, choices: tuple[str, ...] = S3_OP_CHOICES) -> tuple[tuple[str, int], ...]:
    """((op, weight), ...) from --op and, for --op mixed, --mix; choices end with "mixed"."""
    if op not in choices:
        raise typer.BadParameter(f"must be one of {', '.join(choices)}, got '{op}'", param_hint="--op")
    if op != "mixed":
        return ((op, 1),)
    pairs = []
    for part in mix.split(","):
        name, _, weight = part.partition("=")
        if name.strip() not in choices[:-1] or not weight.strip().isdigit():
            raise typer.BadParameter(f"expected op=weight pairs like {choices[0]}=30,{choices[1]}=60, got '{part}'",
                                     param_hint="--mix")
        pairs.append((name.strip(), int(weight)))
    if sum(w for _, w in pairs) <= 0:
        raise typer.BadParameter("weights must add up to more than 0", param_hint="--mix")
    return tuple(pairs)


def _size_range(size: str) -> tuple[int, int]:
    low, _, high = size.partition("-")
    lo = size_option(low, "--size")
    hi = size_option(high, "--size") if high else lo
    if hi < lo:
        raise typer.BadParameter(f"range must go from small to large, got '{size}'", param_hint="--size")
    return lo, hi


@app.command()
def s3(
    workload_config: Annotated[Optional[str], typer.Option("--workload-config", help="S3 workload YAML (default: $S3_CONFIG_PATH, else the running `chopsticks lab`'s).")] = None,
    op: Annotated[str, typer.Option("--op", help="put | get | delete | head | list | mixed.")] = "put",
    mix: Annotated[str, typer.Option("--mix", help="Weights for --op mixed.")] = "put=30,get=60,delete=5,head=5",
    size: Annotated[str, typer.Option("--size", help="Object size, or a range MIN-MAX drawn uniformly (4k, 1M, 4k-1M).")] = "4k",
    driver: Annotated[Optional[str], typer.Option("--driver", help="Driver name or module:Class (default: the config's).")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=4096, help="Client threads per worker, each with its own driver (native: connections per worker).")] = 8,
    objects: Annotated[int, typer.Option("--objects", min=1, help="Objects each thread uploads before the start, for get/head/delete.")] = 50,
    cleanup: Annotated[bool, typer.Option("--cleanup/--no-cleanup", help="Delete the objects the run created.")] = True,
    range_size: Annotated[Optional[str], typer.Option("--range-size", help="Native: GETs read this many bytes at a random offset of each object, not the whole object (as warp --range).")] = None,
    existing: Annotated[Optional[str], typer.Option("--existing", help="Native: GET/HEAD the objects already under this key prefix (listed once per worker before the start); nothing is uploaded or deleted.")] = None,
    multipart_threshold: Annotated[Optional[str], typer.Option("--multipart-threshold", help="Native: PUT larger objects as multipart uploads, their parts sent on any idle connection.")] = None,
    part_size: Annotated[str, typer.Option("--part-size", help="Native: part size of multipart uploads (S3's smallest: 5M).")] = "8M",
    verify: Annotated[bool, typer.Option("--verify", help="Stamp every 4 KiB of each PUT body (key, seq, check value) and check every GET body against its stamps and this run's writes.")] = False,
    verify_against: VerifyAgainst = None,
    procs: Procs = None, duration: Duration = None, io_total: IoTotal = None, ramp: Ramp = 0, seed: Seed = 1,
    op_timeout: OpTimeout = "30s",
    csv: CsvOut = None, timeseries_csv: TsOut = None, json: JsonOut = None, quiet: Quiet = False,
    prometheus: common.Prometheus = None, results_dir: common.ResultsDir = None, no_save: common.NoSave = False,
    cluster: common.Cluster = None, hosts: common.Hosts = None, wait_hosts: common.WaitHosts = "60s",
    progress: ProgressMode = "auto",
    ceph_conf: Annotated[Optional[str], typer.Option("--ceph-conf", help="ceph.conf (and its keyring) of the cluster behind the gateway: its events on the run's timeline (see --watch-cluster).")] = None,
    watch_cluster: common.WatchCluster = None,
    rate: common.Rate = None, arrivals: common.Arrivals = "uniform", slo: common.Slo = None,
    step_duration: common.StepDuration = "10s",
) -> None:
    """S3 (RGW) throughput and latency: Python-driver threads, or the compiled client (--driver native), in pinned worker processes."""
    import dataclasses

    from chopsticks.backends.native_s3 import NativeS3Target
    from chopsticks.backends.s3 import S3Target
    from chopsticks.config import load_s3_config

    ops = _mix(op, mix)
    lo, hi = _size_range(size)
    opts = RunOptions(procs, concurrency, duration, io_total, ramp, seed, op_timeout, csv, timeseries_csv, json, quiet,
                      progress).with_rate(rate, arrivals, slo, step_duration)
    config = load_s3_config(workload_config or common.default_s3_config())
    if driver:
        config = dataclasses.replace(config, driver=driver)
    opts = opts.with_results(prometheus or config.metrics.address, results_dir, no_save)
    verify = verify or verify_against is not None
    if config.driver == "native":
        if verify_against and existing is not None:
            raise typer.BadParameter("reads the earlier run's objects: leave out --existing",
                                     param_hint="--verify-against")
        target = NativeS3Target(config=config, mix=ops, size_min=lo, size_max=hi, objects=objects, cleanup=cleanup,
                                verify=verify, verify_against=verify_against,
                                verify_parts=_verify_parts(verify, verify_against, cluster),
                                **_native_s3_options(ops, lo, range_size, existing),
                                **_multipart_options(multipart_threshold, part_size, hi, concurrency))
        _native_verify_check(target, concurrency)
    elif range_size or existing is not None or multipart_threshold:
        hint = "--range-size" if range_size else "--existing" if existing is not None else "--multipart-threshold"
        raise typer.BadParameter("needs --driver native", param_hint=hint)
    else:
        target = S3Target(config=config, mix=ops, size_min=lo, size_max=hi, objects=objects, cleanup=cleanup,
                          verify=verify, verify_against=verify_against,
                          verify_parts=_verify_parts(verify, verify_against, cluster))
    if watch_cluster and not ceph_conf:
        raise typer.BadParameter("needs --ceph-conf (the cluster behind the gateway)", param_hint="--watch-cluster")
    watch = common.cluster_watch(watch_cluster, ceph_conf, "", "admin") if ceph_conf else None
    opts = opts.with_cluster(cluster, hosts, wait_hosts)
    common.execute(opts.plan(target), opts, watch)


def _native_s3_options(ops: tuple[tuple[str, int], ...], size_min: int, range_size: Optional[str],
                       existing: Optional[str]) -> dict:
    """--range-size and --existing, checked against the mix and the object size."""
    names = {name for name, _ in ops}
    if existing is not None and not names <= {"get", "head"}:
        raise typer.BadParameter("reads only: --op get, head, or a mix of them", param_hint="--existing")
    size = size_option(range_size, "--range-size") if range_size else 0
    if range_size and "get" not in names:
        raise typer.BadParameter("needs GETs in the mix", param_hint="--range-size")
    if size and existing is None and size > size_min:
        raise typer.BadParameter(f"must not exceed the smallest object (--size), {size_min} bytes", param_hint="--range-size")
    return {"range_size": size, "existing": existing}


NATIVE_VERIFY_BUFFERS = 1 << 30     # bench s3 --driver native --verify: body buffers per worker, at most


def _native_verify_check(target, connections: int) -> None:
    """--verify on the native loop: GETs to check (or a verify map to keep), parts on the stamps'
    4 KiB grid, and each connection's stamped body buffer (its largest PUT body or part) within
    NATIVE_VERIFY_BUFFERS."""
    from chopsticks._fast.payload import STAMP_LAYOUT

    if not target.verify:
        return
    if "get" not in {name for name, _ in target.mix} and not target.keeps_verify_map:
        raise typer.BadParameter("checks GET bodies: needs GETs in the mix (or --no-cleanup, to keep a verify map)",
                                 param_hint="--verify")
    if target.multipart_threshold and target.part_size % STAMP_LAYOUT["every"]:
        raise typer.BadParameter("with --verify, parts must be whole 4 KiB blocks (the stamps' grid)",
                                 param_hint="--part-size")
    body = target.verify_body_bytes()
    if connections * body > NATIVE_VERIFY_BUFFERS:
        raise typer.BadParameter(f"stamps each PUT body in a buffer per connection: {connections} × {body:,} bytes is "
                                 f"more than {NATIVE_VERIFY_BUFFERS >> 30} GiB; use --multipart-threshold, fewer "
                                 "--concurrency or smaller objects", param_hint="--verify")


def _multipart_options(threshold: Optional[str], part_size: str, size_max: int, connections: int) -> dict:
    """--multipart-threshold and --part-size: S3's limits (parts of 5 MiB or more, 10,000 at most)
    and the ETag room kept per connection (connections × parts of the largest object)."""
    if not threshold:
        return {}
    part = size_option(part_size, "--part-size")
    parts = -(-size_max // part)
    if part < 5 << 20:
        raise typer.BadParameter("S3 takes parts of at least 5 MiB (all but the last)", param_hint="--part-size")
    if parts > 10_000 or connections * parts > 200_000:
        raise typer.BadParameter(f"{parts} parts per object: at most 10,000, and 200,000 over all connections",
                                 param_hint="--part-size")
    return {"multipart_threshold": size_option(threshold, "--multipart-threshold"), "part_size": part}


RADOS_OP_CHOICES = ("write", "read", "stat", "delete", "mixed")


@app.command()
def rados(
    pool: Annotated[str, typer.Option("--pool", help="RADOS pool.")] = "chopsticks",
    namespace: Annotated[str, typer.Option("--namespace", help="Object namespace in the pool (default: none).")] = "",
    create_pool: Annotated[bool, typer.Option("--create-pool", help="Create the pool if missing (tagged for application 'rados').")] = False,
    conf: CephConf = None,
    client_id: ClientId = "admin",
    keyring: Keyring = None,
    op: Annotated[str, typer.Option("--op", help="write | read | stat | delete | mixed.")] = "write",
    mix: Annotated[str, typer.Option("--mix", help="Weights for --op mixed.")] = "write=30,read=70",
    size: Annotated[str, typer.Option("--size", help="Object size, or a range MIN-MAX each write draws from uniformly (4k, 4M, 4k-64k); reads read up to MAX.")] = "4k",
    objects: Annotated[int, typer.Option("--objects", min=1, max=1 << 26, help="Objects per worker, named <prefix>.<worker>.<n>; written before the start when the op reads, stats or deletes them.")] = 1024,
    access: Annotated[str, typer.Option("--access", help="seq (object after object, as rados bench seq) | rand.")] = "rand",
    prefix: Annotated[str, typer.Option("--prefix", help="Object name prefix.")] = "chopsticks",
    cleanup: Annotated[bool, typer.Option("--cleanup/--no-cleanup", help="Remove the objects the run wrote or prefilled.")] = True,
    verify: Verify = False,
    verify_against: VerifyAgainst = None,
    connect_timeout: ConnectTimeout = 10,
    procs: Procs = None, iodepth: Iodepth = 16, duration: Duration = None, io_total: IoTotal = None,
    ramp: Ramp = 0, seed: Seed = 1, op_timeout: OpTimeout = "30s",
    csv: CsvOut = None, timeseries_csv: TsOut = None, json: JsonOut = None, quiet: Quiet = False,
    prometheus: common.Prometheus = None, results_dir: common.ResultsDir = None, no_save: common.NoSave = False,
    cluster: common.Cluster = None, hosts: common.Hosts = None, wait_hosts: common.WaitHosts = "60s",
    progress: ProgressMode = "auto",
    rate: common.Rate = None, arrivals: common.Arrivals = "uniform", slo: common.Slo = None,
    step_duration: common.StepDuration = "10s", watch_cluster: common.WatchCluster = None,
) -> None:
    """Saturate a RADOS pool through librados' C aio API (write_full, read, stat, remove): IOPS, MiB/s, the latency tail."""
    from chopsticks.backends.rados import RadosTarget

    ops = _mix(op, mix, RADOS_OP_CHOICES)
    lo, hi = _size_range(size)
    if access not in ("seq", "rand"):
        raise typer.BadParameter(f"must be seq or rand, got '{access}'", param_hint="--access")
    if not prefix or any(c in prefix for c in "\0/"):
        raise typer.BadParameter("must be a non-empty name without '/'", param_hint="--prefix")
    opts = RunOptions(procs, iodepth, duration, io_total, ramp, seed, op_timeout, csv, timeseries_csv, json, quiet,
                      progress).with_rate(rate, arrivals, slo, step_duration)
    opts = opts.with_results(prometheus, results_dir, no_save)
    if conf is None:
        conf, default_keyring = common.default_ceph_conf()
        keyring = keyring or default_keyring
    target = RadosTarget(conf=conf, client_id=client_id, keyring=keyring or "", pool=pool, namespace=namespace,
                         mix=ops, size_min=lo, size_max=hi, objects=objects, access=access, prefix=prefix,
                         cleanup=cleanup, create_pool=create_pool, connect_timeout_s=connect_timeout,
                         verify=verify or verify_against is not None, verify_against=verify_against,
                         verify_parts=_verify_parts(verify or verify_against is not None, verify_against, cluster))
    opts = opts.with_cluster(cluster, hosts, wait_hosts)
    plan = opts.plan(target)
    common.check_buffer_memory(plan, plan.max_inflight * hi, "--iodepth × --size")
    common.execute(plan, opts,
                   common.cluster_watch(watch_cluster, conf, keyring or "", client_id))
