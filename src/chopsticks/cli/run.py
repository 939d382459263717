"""`chopsticks run`: Python scenarios (weighted tasks over the driver API) on the multiprocess engine,
with the command line of chopsticks 0.x (which ran them through Locust)."""
from __future__ import annotations

import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from chopsticks.cli import common
from chopsticks.cli.common import CsvOut, JsonOut, OpTimeout, ProgressMode, Quiet, Ramp, RunOptions, TsOut

ScenarioFile = Annotated[Path, typer.Option(
    "--scenario-file", "-f", "--locustfile",
    help="Python file with one class deriving from S3Workload or RBDWorkload, or the name of a shipped "
         "scenario (s3_large_objects, ...).")]
WorkloadConfig = Annotated[Optional[Path], typer.Option(
    "--workload-config", exists=True, dir_okay=False,
    help="S3 or RBD workload YAML (default: $S3_CONFIG_PATH / $RBD_CONFIG_PATH, else the running `chopsticks lab`'s).")]
ScenarioConfigOpt = Annotated[Optional[Path], typer.Option(
    "--scenario-config", exists=True, dir_okay=False,
    help="Scenario parameters YAML (default: config/scenario_config_default.yaml here or next to scenarios/); "
         "keys it does not set come from the shipped defaults.")]
Users = Annotated[Optional[int], typer.Option("--users", "-u", min=1, help="Simulated users (1; required with --headless).")]
SpawnRate = Annotated[Optional[float], typer.Option("--spawn-rate", "-r", help="Users started per second (1; required with --headless).")]
Headless = Annotated[bool, typer.Option("--headless", help="Accepted for chopsticks 0.x command lines: there is no web UI, progress is printed.")]
RunDuration = Annotated[Optional[str], typer.Option("--duration", "-t", help="Measured time after the ramp: 30s, 5m, 1h30m (default 30s).")]
RunSeed = Annotated[int, typer.Option("--seed", help="Seed of the users' random choices (task order, waits, self.random) and payloads.")]
RunProcs = Annotated[Optional[int], typer.Option("--procs", "-p", min=1, help="Worker processes, pinned to one CPU each; users are spread over them (default: min(users, CPUs)).")]
Tags = Annotated[Optional[list[str]], typer.Option("--tags", "-T", help="Run only the tasks with one of these @tag names (comma-separated or repeated).")]
ExcludeTags = Annotated[Optional[list[str]], typer.Option("--exclude-tags", "-E", help="Run no task with one of these @tag names (comma-separated or repeated).")]


def _scenario_path(value: Path) -> Path:
    """The scenario file: an existing file, else a shipped scenario of that name."""
    from chopsticks.workloads.loader import shipped_scenario, shipped_scenarios

    if value.is_dir():
        raise typer.BadParameter(f"'{value}' is a directory", param_hint="'--scenario-file' / '-f'")
    if value.exists():
        return value.resolve()
    shipped = shipped_scenario(str(value))
    if shipped is None:
        raise typer.BadParameter(f"File '{value}' does not exist, nor is it a shipped scenario "
                                 f"({', '.join(shipped_scenarios())})", param_hint="'--scenario-file' / '-f'")
    return shipped


def _names(values: Optional[list[str]]) -> tuple[str, ...]:
    return tuple(name.strip() for value in values or () for name in value.split(",") if name.strip())


Leader = Annotated[bool, typer.Option("--leader", help="chopsticks 0.x: serve a Dask scheduler here (--leader-bind) and run on the hosts that join it.")]
ExpectWorkers = Annotated[Optional[int], typer.Option("--expect-workers", min=1, help="With --leader: hosts to wait for (default 1).")]
ExpectWorkersMaxWait = Annotated[str, typer.Option("--expect-workers-max-wait", help="With --leader: how long to wait for them.")]
LeaderBind = Annotated[str, typer.Option("--leader-bind", help="With --leader: HOST:PORT the scheduler listens on.")]
Worker = Annotated[bool, typer.Option("--worker", help="chopsticks 0.x: serve the runs of --leader-host (as `chopsticks worker tcp://HOST:8786`).")]
LeaderHost = Annotated[Optional[str], typer.Option("--leader-host", help="With --worker: the leader's host (HOST or HOST:PORT).")]


def _serve_leader_runs(leader_host: Optional[str]) -> None:
    """0.x `--worker --leader-host H`: `chopsticks worker tcp://H:8786`."""
    from chopsticks.cli.worker import worker

    if not leader_host:
        raise typer.BadParameter("--worker needs --leader-host", param_hint="--leader-host")
    worker(leader_host, None, 60)


def _execute_as_leader(plan, opts: RunOptions, bind: str) -> None:
    """0.x `--leader`: a Dask scheduler in this process, then the run on the hosts that joined it."""
    from chopsticks.cluster.connect import serve_scheduler

    host, _, port = bind.rpartition(":")
    if not port.isdigit() or int(port) > 65535:
        raise typer.BadParameter(f"expected HOST:PORT, got '{bind}'", param_hint="--leader-bind")
    with serve_scheduler(host or "0.0.0.0", int(port)) as address:
        common.execute(plan, replace(opts, cluster=address))


def _workload_config(workload, path: Optional[Path]):
    """The workload config the scenario's client connects with, defaults applied."""
    from chopsticks.config import load_s3_config
    from chopsticks.workloads import S3Workload
    from chopsticks.workloads.rbd import load_rbd_config

    if issubclass(workload, S3Workload):
        return load_s3_config(path or common.default_s3_config())
    return load_rbd_config(path)


def _users_and_rate(users: Optional[int], spawn_rate: Optional[float], headless: bool) -> tuple[int, float]:
    if headless and (users is None or spawn_rate is None):
        missing = "--users" if users is None else "--spawn-rate"
        raise typer.BadParameter("--headless needs both --users and --spawn-rate", param_hint=missing)
    if spawn_rate is not None and not (spawn_rate > 0 and math.isfinite(spawn_rate)):
        raise typer.BadParameter(f"must be more than 0 users per second, got {spawn_rate}", param_hint="--spawn-rate")
    return users or 1, spawn_rate or 1.0


def register(app: typer.Typer) -> None:
    app.command(name="run")(run)


def run(
    scenario_file: ScenarioFile, workload_config: WorkloadConfig = None,
    scenario_config: ScenarioConfigOpt = None, users: Users = None, spawn_rate: SpawnRate = None,
    duration: RunDuration = None, headless: Headless = False, procs: RunProcs = None,
    ramp: Ramp = 0, seed: RunSeed = 1, op_timeout: OpTimeout = "30s",
    tags: Tags = None, exclude_tags: ExcludeTags = None,
    csv: CsvOut = None, timeseries_csv: TsOut = None, json: JsonOut = None, quiet: Quiet = False,
    prometheus: common.Prometheus = None, results_dir: common.ResultsDir = None, no_save: common.NoSave = False,
    cluster: common.Cluster = None, hosts: common.Hosts = None, wait_hosts: common.WaitHosts = "60s",
    leader: Leader = False, expect_workers: ExpectWorkers = None, expect_workers_max_wait: ExpectWorkersMaxWait = "60s",
    leader_bind: LeaderBind = "0.0.0.0:8786", worker: Worker = False, leader_host: LeaderHost = None,
    progress: ProgressMode = "auto",
) -> None:
    """Run a scenario: simulated users, each running weighted @task methods of a scenario class."""
    from chopsticks.backends.scenario import ScenarioTarget, scenario_class
    from chopsticks.engine.pool import usable_cpus
    from chopsticks.workloads.loader import compat_imports
    from chopsticks.workloads.locust_names import events
    from chopsticks.workloads.scenario_config import default_path, load_scenario_config

    if worker:
        _serve_leader_runs(leader_host)
    users, spawn_rate = _users_and_rate(users, spawn_rate, headless)
    if procs is not None and procs > users:
        raise typer.BadParameter(f"more worker processes than users ({procs} > {users})", param_hint="--procs")
    procs_per_host = procs                                  # with a cluster; None = each host decides
    procs = procs or min(users, len(usable_cpus()))
    common.duration_option(duration, "--duration")          # a bad duration is a usage error before any import
    scenario_file = _scenario_path(scenario_file)
    settings = load_scenario_config(scenario_config or default_path(scenario_file))
    workload = scenario_class(str(scenario_file), settings)
    compat = compat_imports(scenario_file)
    if compat:
        ignored = events.with_listeners()
        print(f"chopsticks: note: 0.x scenario API ({', '.join(compat)}): running through chopsticks' compatibility "
              "names" + (f"; listeners of locust events {', '.join(ignored)} are never called" if ignored else ""),
              file=sys.stderr)
    target = ScenarioTarget(scenario_file=str(scenario_file), workload_config=_workload_config(workload, workload_config),
                            scenario_config=settings, users=users, spawn_rate=spawn_rate, tags=_names(tags),
                            exclude_tags=_names(exclude_tags))
    opts = RunOptions(procs, math.ceil(users / procs), duration, None, ramp, seed, op_timeout, csv, timeseries_csv,
                      json, quiet, progress)
    opts = opts.with_results(prometheus or common.config_prometheus(target.workload_config), results_dir, no_save)
    if leader:
        _execute_as_leader(opts.plan(target), replace(opts, procs=procs_per_host, hosts=expect_workers or 1,
                                                      wait_hosts=expect_workers_max_wait, procs_cap=users), leader_bind)
    if cluster:
        opts = replace(opts, procs=procs_per_host).with_cluster(cluster, hosts, wait_hosts, procs_cap=users)
    common.execute(opts.plan(target), opts)
