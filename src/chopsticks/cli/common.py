"""Options shared by every engine command, and the one function that runs a Plan and writes
its outputs."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from chopsticks.engine import pool
from chopsticks.engine.contract import error_namer
from chopsticks.engine.progress import PROGRESS_MODES, progress_display
from chopsticks.engine.worker_load import WorkerLoad
from chopsticks.errors import ChopsticksError
from chopsticks.memory import check_buffers
from chopsticks.metrics import export
from chopsticks.metrics.hints import hints, wrap as wrap_hints
from chopsticks.metrics.summary import summarize
from chopsticks.plan import PIN_MODES, Plan
from chopsticks.report.rundir import REPORT_HTML, RESULT_JSON, RUN_DIR_ENV, SUMMARY_CSV, TIMESERIES_CSV, RunDirectory
from chopsticks.units import parse_duration, parse_size

EXIT_OK, EXIT_ERROR, EXIT_PARTIAL, EXIT_OP_ERRORS = 0, 1, 3, 4
MAX_DURATION_S = 7 * 86400          # per-second series are sized by the run's length
MAX_OP_TIMEOUT_S = 86400
PROCS_PER_CPU_LIMIT = 64            # beyond this, workers only fight over the CPUs and memory


def exit_status_of_signal(signum: int) -> int:
    """128 + the signal's number, as a shell reports it: 130 SIGINT, 143 SIGTERM, 129 SIGHUP."""
    return 128 + int(signum)


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
Ramp = Annotated[int, typer.Option("--ramp", min=0, max=86400, help="Whole seconds at the start left out of the results.")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the offset and payload generators.")]
OpTimeout = Annotated[str, typer.Option("--op-timeout", help="An op older than this is counted as stalled.")]
CsvOut = Annotated[Optional[Path], typer.Option("--csv", help="Write the percentile summary (one row per op and 'all') here.")]
TsOut = Annotated[Optional[Path], typer.Option("--timeseries-csv", help="Write the per-second series here.")]
JsonOut = Annotated[Optional[Path], typer.Option("--json", help="Write everything (settings, summary, series, histograms) here.")]
Quiet = Annotated[bool, typer.Option("--quiet", help="No live progress (same as --progress none).")]
WatchCluster = Annotated[Optional[bool], typer.Option("--watch-cluster/--no-watch-cluster", help="Ask the monitors for the cluster's status once a second: its events (OSD down, health, PGs degraded) on the run's timeline, its figures in the time series (default: on).")]
ProgressMode = Annotated[str, typer.Option("--progress", help="auto (a live table in a terminal, else a line a second) | live | plain | none.")]
Prometheus = Annotated[Optional[str], typer.Option("--prometheus", help="Serve live Prometheus metrics on [ADDR:]PORT (ADDR 0.0.0.0 unless given) for the run's whole life.")]
ResultsDir = Annotated[Optional[Path], typer.Option("--results-dir", help="Keep the run's results in DIR/<YYYYmmdd-HHMMSS>-<command>/ (default ./chopsticks-results; $CHOPSTICKS_RUN_DIR names the run directory itself).")]
NoSave = Annotated[bool, typer.Option("--no-save", help="Keep no run directory: only --csv/--timeseries-csv/--json are written.")]


Pin = Annotated[str, typer.Option("--pin", help="What each worker pins to its CPU: process (with its client library's threads), thread (only the loop's thread), none.")]
Rate = Annotated[Optional[float], typer.Option("--rate", help="Rate mode: this many ops/s over all workers (and hosts), each op timed from when it should have started; --iodepth then caps the ops in flight per worker.")]
Arrivals = Annotated[str, typer.Option("--arrivals", help="Rate mode: uniform gaps between intended starts, or poisson (exponential gaps from --seed).")]
Slo = Annotated[Optional[list[str]], typer.Option("--slo", help="Search the highest rate meeting this latency objective, e.g. p99<=5ms (repeatable; all must hold).")]
StepDuration = Annotated[str, typer.Option("--step-duration", help="SLO search: measured time of each rate step.")]
MAX_RATE = 1e9                      # ops/s: far past what any one run can do


Cluster = Annotated[Optional[str], typer.Option("--cluster", envvar="CHOPSTICKS_CLUSTER", help="Run on every host of a Dask cluster: its scheduler (tcp://HOST:8786), or local:N for N hosts on this machine; --procs is then per host (README, \"Many client hosts\").")]
Hosts = Annotated[Optional[int], typer.Option("--hosts", min=1, help="With --cluster: wait for this many hosts and run on that many (default: every connected host).")]
WaitHosts = Annotated[str, typer.Option("--wait-hosts", help="With --cluster: how long to wait for the hosts.")]


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
    progress: str = "auto"
    cluster: Optional[str] = None   # --cluster: a Dask scheduler or local:N
    hosts: Optional[int] = None
    wait_hosts: str = "60s"
    procs_cap: Optional[int] = None # with --cluster: more workers than this are useless (run: users)
    prometheus: Optional[str] = None    # [ADDR:]PORT of the live /metrics endpoint
    results_dir: Optional[Path] = None  # where run directories are made (default ./chopsticks-results)
    save: bool = True                   # keep a run directory (--no-save: False)

    def with_results(self, prometheus: Optional[str], results_dir: Optional[Path], no_save: bool) -> RunOptions:
        """Where the run's results are kept and served; a malformed --prometheus is a usage error."""
        if prometheus is not None:
            from chopsticks.metrics.prometheus import parse_address

            try:
                parse_address(prometheus)
            except ValueError as e:
                raise typer.BadParameter(str(e), param_hint="--prometheus") from None
        return replace(self, prometheus=prometheus, results_dir=results_dir, save=not no_save)
    runs_to_end: bool = False       # the loop ends by itself (--rw verify): no default --duration
    pin: str = "process"            # --pin
    rate: Optional[float] = None    # --rate: total ops/s (rate mode)
    arrivals: str = "uniform"
    slo: tuple[str, ...] = ()       # --slo objectives: search the highest rate meeting them
    step_duration: str = "10s"

    def with_rate(self, rate: Optional[float], arrivals: str, slo: Optional[list[str]] = None,
                  step_duration: str = "10s") -> RunOptions:
        """Rate mode (--rate) or an SLO search (--slo): checked here, carried into the Plan."""
        from chopsticks.plan import ARRIVALS

        if rate is not None and not (0 < rate <= MAX_RATE):
            raise typer.BadParameter(f"must be more than 0 and at most {MAX_RATE:.0e} ops/s, got {rate}",
                                     param_hint="--rate")
        if arrivals not in ARRIVALS:
            raise typer.BadParameter(f"must be one of {', '.join(ARRIVALS)}, got '{arrivals}'", param_hint="--arrivals")
        if slo and rate is not None:
            raise typer.BadParameter("--slo searches the rate itself: leave out --rate", param_hint="--slo")
        duration_option(step_duration, "--step-duration")
        return replace(self, rate=rate, arrivals=arrivals, slo=tuple(slo or ()), step_duration=step_duration)

    def with_cluster(self, cluster: Optional[str], hosts: Optional[int], wait_hosts: str,
                     procs_cap: Optional[int] = None) -> RunOptions:
        """These options run on a cluster when `cluster` is set; --hosts alone is a usage error."""
        if not cluster and hosts is not None:
            raise typer.BadParameter("needs --cluster (or CHOPSTICKS_CLUSTER)", param_hint="--hosts")
        if cluster and self.slo:
            raise typer.BadParameter("the SLO search runs on one host for now: leave out --cluster", param_hint="--slo")
        duration_option(wait_hosts, "--wait-hosts")
        return replace(self, cluster=cluster or None, hosts=hosts, wait_hosts=wait_hosts, procs_cap=procs_cap)

    def plan(self, target) -> Plan:
        """Validate the generic settings and build the Plan (one-line errors, exit 2 for usage)."""
        if self.progress not in PROGRESS_MODES:
            raise typer.BadParameter(f"must be one of {', '.join(PROGRESS_MODES)}, got '{self.progress}'",
                                     param_hint="--progress")
        n_cpus = len(pool.usable_cpus())
        procs = self.procs or n_cpus
        if self.cluster:                # --procs is per host, checked against each host's CPUs there
            n_cpus = max(n_cpus, procs)
        if procs > PROCS_PER_CPU_LIMIT * n_cpus:
            raise typer.BadParameter(f"{procs} workers on {n_cpus} CPUs: at most {PROCS_PER_CPU_LIMIT} per CPU "
                                     f"({PROCS_PER_CPU_LIMIT * n_cpus}); more only share the same cores and memory",
                                     param_hint="--procs")
        cpus, oversubscribed = pool.assign_cpus(procs)
        if oversubscribed and not self.cluster:
            print(f"chopsticks: warning: {procs} workers on {n_cpus} CPUs: "
                  "several workers share a CPU", file=sys.stderr)
        io_total = size_option(self.io_total, "--io-total")
        duration = duration_option(self.duration, "--duration") if self.duration else \
            (None if io_total or self.runs_to_end else 30.0)
        if duration is not None and duration > MAX_DURATION_S:
            raise typer.BadParameter(f"at most {MAX_DURATION_S // 86400} days ({MAX_DURATION_S}s), got '{self.duration}'",
                                     param_hint="--duration")
        op_timeout = duration_option(self.op_timeout, "--op-timeout")
        if op_timeout > MAX_OP_TIMEOUT_S:
            raise typer.BadParameter(f"at most {MAX_OP_TIMEOUT_S}s, got '{self.op_timeout}'", param_hint="--op-timeout")
        if self.pin not in PIN_MODES:
            raise typer.BadParameter(f"must be one of {', '.join(PIN_MODES)}, got '{self.pin}'", param_hint="--pin")
        if (self.rate is not None or self.slo) and not getattr(target, "supports_rate", False):
            raise typer.BadParameter(f"rate mode is not available for this target ({target.name}) yet",
                                     param_hint="--rate" if self.rate is not None else "--slo")
        check_outputs(self.csv, self.timeseries_csv, self.json)
        return Plan(target=target, procs=procs, cpus=cpus, max_inflight=self.iodepth, duration_s=duration,
                    ramp_s=self.ramp, io_total=io_total, seed=self.seed,
                    op_timeout_s=op_timeout, command=tuple(["chopsticks", *sys.argv[1:]]),
                    rate=self.rate, arrivals=self.arrivals, pin=self.pin)


def check_buffer_memory(plan: Plan, per_worker_bytes: int, what: str) -> None:
    """One-line error when the workers' I/O buffers would not fit in half the available memory."""
    check_buffers(per_worker_bytes, plan.procs, what)


def check_outputs(*paths: Optional[Path]) -> None:
    """Every output path can be written, before the first op: a file (not a directory) in an
    existing directory where a file can be created. One-line error otherwise."""
    for path in paths:
        if path is None:
            continue
        path = Path(path)
        if path.is_dir():
            raise ChopsticksError(f"cannot write {path}: it is a directory")
        parent = path.parent
        if not parent.is_dir():
            raise ChopsticksError(f"cannot write {path}: directory {parent} does not exist")
        try:
            if path.exists():
                with open(path, "r+b"):
                    pass
            else:
                with tempfile.NamedTemporaryFile(dir=parent, prefix=f".{path.name}.", delete=True):
                    pass
        except OSError as e:
            raise ChopsticksError(f"cannot write {path}: {e.strerror or e}") from None


def execute(plan: Plan, opts: RunOptions, watch=None) -> None:
    """Run the plan, print the table, write the requested files; exit with the run's status.
    `watch`: the Ceph cluster's watch (engine/cluster_watch.py), an observer too."""
    check_outputs(opts.csv, opts.timeseries_csv, opts.json)
    if opts.slo:
        from chopsticks.cli.slo import execute_slo

        return execute_slo(plan, opts)
    progress = None if opts.quiet else progress_display(opts.progress)
    load = WorkerLoad()
    if watch is not None and progress is not None:
        watch.on_event = progress.event
    with run_outputs(plan, opts) as (run_dir, exporter):
        cluster = run_on_cluster(plan, opts, [progress, watch]) if opts.cluster else None
        out = cluster.merged if cluster else pool.run(plan, [progress, load, exporter, watch])
    rows = summarize(out)
    name_of = error_namer(plan.target)
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    print(export.report_text(out, rows, name_of, width))
    if cluster:
        print(export.hosts_text(cluster.host_entries, cluster.first_op_spread_ms))
    run_hints = hints(out, rows, name_of, load)
    if run_hints:
        print(wrap_hints(run_hints, width))
    if watch is not None:
        print("\n".join(watch.report_lines(width)))
    document = export.result_document(out, rows, name_of, run_hints)
    if watch is not None:
        document.update(watch.report())
    if cluster:
        document.update(cluster.document())
    series = watch.figures_by_second() if watch is not None else None
    outputs = [(opts.csv, lambda p: export.write_summary_csv(p, rows)),
               (opts.timeseries_csv, lambda p: export.write_timeseries_csv(p, out, cluster.by_host() if cluster else (), series)),
               (opts.json, lambda p: export.write_json(p, document))]
    written, failed = write_outputs(outputs)
    if written:
        print(f"wrote {', '.join(written)}" + (" (partial)" if out.partial else ""))
    failed += keep_results(run_dir, document, rows, lambda p: export.write_timeseries_csv(p, out, cluster.by_host() if cluster else (), series))
    failed += keep_beside_results(plan.target, out, [opts.json, run_dir / RESULT_JSON if run_dir else None])
    raise typer.Exit(exit_status(out, rows, failed))


def keep_beside_results(target, out, result_paths: list) -> list[str]:
    """Write what the target keeps of the run beside each JSON result (bench rbd|rados --verify: its
    verify map, for a later --verify-against); returns the paths that failed."""
    keep = getattr(target, "keep_beside", None)
    if keep is None:
        return []
    written, failed = write_outputs(keep(out, [Path(p) for p in result_paths if p is not None]))
    if written:
        print(f"wrote {', '.join(written)}")
    return failed


def run_on_cluster(plan: Plan, opts: RunOptions, observers):
    """Run the plan on every host of opts.cluster (--procs per host); the ClusterOutcome."""
    from chopsticks.cluster.coordinator import ClusterRequest, run_cluster

    if opts.prometheus:
        raise typer.BadParameter("not served in cluster runs yet", param_hint="--prometheus")
    request = ClusterRequest(opts.cluster, opts.hosts, duration_option(opts.wait_hosts, "--wait-hosts"),
                             opts.procs, opts.procs_cap)
    return run_cluster(plan, request, observers)


def write_outputs(outputs) -> tuple[list[str], list[str]]:
    """Write each (path, writer) whose path is set; a failure is reported and the others still
    written. Returns the paths written and those that failed."""
    written, failed = [], []
    for path, writer in outputs:
        if path is None:
            continue
        try:
            writer(path)
            written.append(str(path))
        except OSError as e:
            print(f"chopsticks: error: could not write {path}: {e.strerror or e}", file=sys.stderr)
            failed.append(str(path))
    return written, failed


@contextlib.contextmanager
def run_outputs(plan: Plan, opts: RunOptions):
    """For the run's life: the run directory, made before the first op (and removed if the run
    never started; exported as $CHOPSTICKS_RUN_DIR, as 0.x did), and the Prometheus endpoint."""
    run_dir = RunDirectory.create(plan.command, opts.results_dir) if opts.save else None
    exporter, preset = None, os.environ.get(RUN_DIR_ENV)
    try:
        if run_dir is not None:
            os.environ[RUN_DIR_ENV] = str(run_dir.path)
        if opts.prometheus:
            from chopsticks.metrics.prometheus import PrometheusExporter, parse_address

            exporter = PrometheusExporter(*parse_address(opts.prometheus), plan.target.name)
        yield run_dir, exporter
    except BaseException:
        if run_dir is not None:
            run_dir.discard()
        raise
    finally:
        if exporter is not None:
            exporter.close()
        if preset is None:
            os.environ.pop(RUN_DIR_ENV, None)
        else:
            os.environ[RUN_DIR_ENV] = preset


def keep_results(run_dir: Optional[RunDirectory], document: dict, rows: list[dict], write_timeseries) -> list[str]:
    """Write the run directory's files and print where they are; returns the paths that failed."""
    if run_dir is None:
        return []
    from chopsticks.report.html import write_run_report
    from chopsticks.report.result import from_document

    written, failed = write_outputs([
        (run_dir / RESULT_JSON, lambda p: export.write_json(p, document)),
        (run_dir / SUMMARY_CSV, lambda p: export.write_summary_csv(p, rows)),
        (run_dir / TIMESERIES_CSV, write_timeseries),
        (run_dir / REPORT_HTML, lambda p: write_run_report(p, from_document(document, RESULT_JSON)))])
    if written:
        print(f"results in {run_dir.path}/ ({', '.join(Path(w).name for w in written)})")
    return failed


def exit_status(out, rows: list[dict], failed_outputs: list[str]) -> int:
    """The run's exit status (README, "Signals and exit status")."""
    if out.stop_signal:
        return exit_status_of_signal(out.stop_signal)
    if out.partial:
        return EXIT_PARTIAL
    if failed_outputs:
        return EXIT_ERROR
    total = rows[-1]
    if total["ops"] == 0 and total["errors"] == 0:
        print("chopsticks: the run completed no operation", file=sys.stderr)
        return EXIT_OP_ERRORS
    if total["errors"] or total["stalled"]:
        return EXIT_OP_ERRORS
    return EXIT_OK


def cluster_watch(enabled: Optional[bool], conf: str, keyring: str, client_id: str):
    """The cluster watch for a run on Ceph (on unless --no-watch-cluster), or None."""
    if enabled is False:
        return None
    from chopsticks.engine.cluster_watch import ClusterWatch

    return ClusterWatch(conf, keyring, client_id)


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


def config_prometheus(workload_config) -> Optional[str]:
    """HOST:PORT from a workload config's 0.x `metrics:` section when enabled (S3 configs have one)."""
    metrics = getattr(workload_config, "metrics", None)
    return metrics.address if metrics is not None else None


def default_s3_config() -> Optional[str]:
    """$S3_CONFIG_PATH, else the running `chopsticks lab`'s s3_config.yaml, else None."""
    if os.environ.get("S3_CONFIG_PATH"):
        return os.environ["S3_CONFIG_PATH"]
    from chopsticks.lab import find_running
    lab = find_running()
    return str(lab.s3_config) if lab else None
