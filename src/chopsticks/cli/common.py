"""Options shared by every engine command, and the one function that runs a Plan and writes
its outputs."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer

from chopsticks.engine import pool
from chopsticks.engine.progress import ProgressLine
from chopsticks.errors import ChopsticksError
from chopsticks.metrics import export
from chopsticks.metrics.summary import summarize
from chopsticks.plan import Plan
from chopsticks.units import parse_duration, parse_size

EXIT_OK, EXIT_PARTIAL, EXIT_OP_ERRORS, EXIT_INTERRUPTED = 0, 3, 4, 130


def _option(parse, value: Optional[str], option: str):
    if value is None:
        return None
    try:
        return parse(value, option)
    except ChopsticksError as e:
        raise typer.BadParameter(str(e), param_hint=option) from None


def size_option(value: Optional[str], option: str) -> Optional[int]:
    """Bytes of a size option, or a usage error (exit 2) naming the option."""
    return _option(parse_size, value, option)


def duration_option(value: Optional[str], option: str) -> Optional[float]:
    """Seconds of a duration option, or a usage error (exit 2) naming the option."""
    return _option(parse_duration, value, option)


Procs = Annotated[Optional[int], typer.Option("--procs", "-p", min=1, help="Worker processes, each pinned to one CPU (default: the CPUs this process may use).")]
Iodepth = Annotated[int, typer.Option("--iodepth", "-q", min=1, max=65536, help="Operations in flight per worker.")]
Duration = Annotated[Optional[str], typer.Option("--duration", "-t", help="Measured time after the ramp: 30s, 5m, 1h30m (default 30s unless --io-total is given).")]
IoTotal = Annotated[Optional[str], typer.Option("--io-total", help="Stop after this many bytes over all workers (e.g. 10G).")]
Ramp = Annotated[int, typer.Option("--ramp", min=0, help="Whole seconds at the start left out of the results.")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the offset and payload generators.")]
OpTimeout = Annotated[str, typer.Option("--op-timeout", help="An op older than this is counted as stalled.")]
CsvOut = Annotated[Optional[Path], typer.Option("--csv", help="Write the percentile summary (one row per op and 'all') here.")]
TsOut = Annotated[Optional[Path], typer.Option("--timeseries-csv", help="Write the per-second series here.")]
JsonOut = Annotated[Optional[Path], typer.Option("--json", help="Write everything (settings, summary, series, histograms) here.")]
Quiet = Annotated[bool, typer.Option("--quiet", help="No live progress line.")]


@dataclass(frozen=True)
class RunOptions:
    procs: Optional[int]
    iodepth: int
    duration: Optional[str]
    io_total: Optional[str]
    ramp: int
    seed: int
    op_timeout: str
    csv: Optional[Path]
    timeseries_csv: Optional[Path]
    json: Optional[Path]
    quiet: bool

    def plan(self, target) -> Plan:
        """Validate the generic settings and build the Plan (one-line errors, exit 2 for usage)."""
        procs = self.procs or len(pool.usable_cpus())
        cpus, oversubscribed = pool.assign_cpus(procs)
        if oversubscribed:
            print(f"chopsticks: warning: {procs} workers on {len(pool.usable_cpus())} CPUs: "
                  "several workers share a CPU", file=sys.stderr)
        io_total = size_option(self.io_total, "--io-total")
        duration = duration_option(self.duration, "--duration") if self.duration else (None if io_total else 30.0)
        return Plan(target=target, procs=procs, cpus=cpus, iodepth=self.iodepth, duration_s=duration,
                    ramp_s=self.ramp, io_total=io_total, seed=self.seed,
                    op_timeout_s=duration_option(self.op_timeout, "--op-timeout"), command=tuple(["chopsticks", *sys.argv[1:]]))


def execute(plan: Plan, opts: RunOptions) -> None:
    """Run the plan, print the table, write the requested files; exit with the run's status."""
    for path in (opts.csv, opts.timeseries_csv, opts.json):
        if path is not None and not path.parent.is_dir():
            raise ChopsticksError(f"cannot write {path}: directory {path.parent} does not exist")
    progress = None if opts.quiet else ProgressLine(plan.target.op_names)
    try:
        out = pool.run(plan, progress)
    finally:
        if progress:
            progress.finish()
    rows = summarize(out)
    name_of = plan.target.error_name
    print(export.report_text(out, rows, name_of))
    if opts.csv:
        export.write_summary_csv(opts.csv, rows)
    if opts.timeseries_csv:
        export.write_timeseries_csv(opts.timeseries_csv, out)
    if opts.json:
        export.write_json(opts.json, export.result_document(out, rows, name_of))
    written = [str(p) for p in (opts.csv, opts.timeseries_csv, opts.json) if p]
    if written:
        print(f"wrote {', '.join(written)}" + (" (partial)" if out.partial else ""))
    if out.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if out.partial:
        raise typer.Exit(EXIT_PARTIAL)
    if rows[-1]["errors"]:
        raise typer.Exit(EXIT_OP_ERRORS)


def default_ceph_conf() -> tuple[str, str]:
    """(conf, keyring) of the running `chopsticks lab`, else $CEPH_CONF or /etc/ceph/ceph.conf."""
    from chopsticks.lab import find_running
    lab = find_running()
    if lab is not None:
        return str(lab.conf), str(lab.keyring)
    conf = os.environ.get("CEPH_CONF") or "/etc/ceph/ceph.conf"
    if not Path(conf).is_file():
        raise ChopsticksError("no Ceph cluster given: pass --conf (and --keyring), or start one with `chopsticks lab up`")
    return conf, os.environ.get("CEPH_KEYRING", "")


def default_s3_config() -> Optional[str]:
    """$S3_CONFIG_PATH, else the running `chopsticks lab`'s s3_config.yaml, else None."""
    if os.environ.get("S3_CONFIG_PATH"):
        return os.environ["S3_CONFIG_PATH"]
    from chopsticks.lab import find_running
    lab = find_running()
    return str(lab.s3_config) if lab else None
