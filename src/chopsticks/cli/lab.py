"""`chopsticks lab`: a throw-away single-node Ceph cluster on loopback."""
import shlex
import time
from pathlib import Path
from typing import Optional

import typer

from chopsticks import lab
from chopsticks.cli.common import duration_option
from chopsticks.errors import ChopsticksError
from chopsticks.lab import fault
from chopsticks.lab.cluster import resolve_dir

app = typer.Typer(
    help="Start, inspect and stop a throw-away single-node Ceph cluster on loopback.", no_args_is_help=True
)

DIR_OPTION = typer.Option(
    None, "--dir", help="Run directory of the lab [default: $CHOPSTICKS_LAB_DIR, else $XDG_STATE_HOME/chopsticks/lab]."
)


def _progress(message: str) -> None:
    typer.echo(message, err=True)


@app.command()
def up(
    dir: Path | None = DIR_OPTION,
    install: bool = typer.Option(False, "--install", help="apt-get the Ceph packages first if missing (as root)."),
) -> None:
    """Start a lab (mon, mgr, memstore OSD, RGW), wait for HEALTH_OK and print what it made."""
    started_at = time.monotonic()
    info, started = lab.up(dir, install=install, log=_progress)
    if started:
        typer.echo(f"lab up in {time.monotonic() - started_at:.1f} s: {info.dir}")
    typer.echo(_describe(info))


@app.command()
def down(dir: Path | None = DIR_OPTION) -> None:
    """Stop the lab's daemons (exactly the PIDs it started) and remove its run directory."""
    lab_dir = resolve_dir(dir)
    if lab.down(lab_dir):
        typer.echo(f"lab stopped and {lab_dir} removed")
    else:
        typer.echo(f"no lab running in {lab_dir}")


@app.command()
def status(dir: Path | None = DIR_OPTION) -> None:
    """Show health, daemon PIDs and endpoints; exit status 1 unless the lab is running."""
    report = lab.status(dir)
    typer.echo(f"lab in {report['dir']}: {'running' if report['running'] else 'NOT running'}")
    typer.echo(f"  health         {report['health']}")
    for name, daemon in report["daemons"].items():
        typer.echo(f"  {name:<15}pid {daemon['pid']} {'alive' if daemon['alive'] else 'dead'}")
    typer.echo(f"  mon            {report['mon_addr']}")
    typer.echo(f"  s3 endpoint    {report['s3_endpoint']}")
    info = lab.LabInfo.load(resolve_dir(dir))
    if info.s3_tls_config:
        typer.echo(f"  s3 https       {info.s3_tls_endpoint} ({info.s3_tls_config})")
    for label, path in _files(info):
        typer.echo(f"  {label:<15}{path}")
    typer.echo(_use_line(info))
    if not report["running"]:
        raise typer.Exit(1)


@app.command()
def env(dir: Path | None = DIR_OPTION) -> None:
    """Print shell exports for the running lab: eval "$(chopsticks lab env)"."""
    info = lab.find_running(dir)
    if info is None:
        raise ChopsticksError(f"no lab running in {resolve_dir(dir)}")
    for name, value in lab.env_vars(info).items():
        typer.echo(f"export {name}={shlex.quote(value)}")


def _describe(info: lab.LabInfo) -> str:
    """What a lab offers, one line per thing, for people."""
    pids = " ".join(f"{name}={pid}" for name, pid in info.pids.items())
    conf, keyring, s3_config = (f"  {label:<13}{path}" for label, path in _files(info))
    return "\n".join([
        conf, keyring,
        f"  mon          {info.mon_addr}",
        f"  rbd image    {info.pool}/{info.image} ({info.image_size >> 20} MiB)",
        f"  s3 endpoint  {info.s3_endpoint}" + (f", {info.s3_tls_endpoint} ({info.s3_tls_config})"
                                                 if info.s3_tls_config else ""),
        f"  s3 bucket    {info.bucket} (access key {info.access_key})",
        s3_config,
        f"  pids         {pids}",
        _use_line(info),
    ])


def _files(info: lab.LabInfo) -> list[tuple[str, str]]:
    """(label, path) of the lab's ceph.conf, keyring and S3 config."""
    return [("ceph.conf", str(info.conf)), ("keyring", f"{info.keyring} (client.{info.client_id})"),
            ("s3 config", str(info.s3_config))]


def _use_line(info: lab.LabInfo) -> str:
    """The line that points a shell at the lab's files."""
    return f'use it:        eval "$(chopsticks lab env --dir {shlex.quote(str(info.dir))})"'


fault_app = typer.Typer(
    help="Inject a fault into one of the lab's daemons (named as `lab status` names them: mon.a, mgr.x, "
         "osd.0, client.rgw.lab).",
    no_args_is_help=True,
)
app.add_typer(fault_app, name="fault")

DAEMON_ARG = typer.Argument(..., help="The daemon, as `lab status` names it (osd.0, mon.a, client.rgw.lab).")
FOR_OPTION = typer.Option(None, "--for", help="Undo the fault after this long (10s, 2m): resume, or restart.")


def _lab(dir: Path | None) -> lab.LabInfo:
    info = lab.LabInfo.load(resolve_dir(dir))
    if info is None:
        raise ChopsticksError(f"no lab in {resolve_dir(dir)} (start one: chopsticks lab up)")
    return info


def _hold(seconds: float | None, undo) -> None:
    """With --for: wait, then undo the fault (also when interrupted)."""
    if seconds is None:
        return
    try:
        time.sleep(seconds)
    finally:
        undo()


@fault_app.command()
def pause(daemon: str = DAEMON_ARG, for_: Optional[str] = FOR_OPTION, dir: Path | None = DIR_OPTION) -> None:
    """SIGSTOP the daemon: it hangs, its peers notice only by timeouts."""
    info = _lab(dir)
    seconds = duration_option(for_, "--for")
    typer.echo(f"paused {daemon} (pid {fault.pause(info, daemon)})" + (f" for {for_}" if seconds else ""))
    _hold(seconds, lambda: typer.echo(f"resumed {daemon} (pid {fault.resume(info, daemon)})"))


@fault_app.command()
def resume(daemon: str = DAEMON_ARG, dir: Path | None = DIR_OPTION) -> None:
    """SIGCONT a paused daemon."""
    typer.echo(f"resumed {daemon} (pid {fault.resume(_lab(dir), daemon)})")


@fault_app.command()
def kill(daemon: str = DAEMON_ARG, for_: Optional[str] = FOR_OPTION, dir: Path | None = DIR_OPTION) -> None:
    """SIGKILL the daemon (not the memstore OSD: it would lose the lab's data); `restart` starts it again."""
    info = _lab(dir)
    seconds = duration_option(for_, "--for")
    typer.echo(f"killed {daemon} (pid {fault.kill(info, daemon)})")
    _hold(seconds, lambda: _restarted(info, daemon))


@fault_app.command()
def restart(daemon: str = DAEMON_ARG, dir: Path | None = DIR_OPTION) -> None:
    """Stop the daemon (if it runs) and start it again; waits until the cluster sees it."""
    _restarted(_lab(dir), daemon)


def _restarted(info: lab.LabInfo, daemon: str) -> None:
    _, pid = fault.restart(info, daemon)
    typer.echo(f"restarted {daemon} (pid {pid})")


@fault_app.command("mark-down")
def mark_down(daemon: str = DAEMON_ARG, dir: Path | None = DIR_OPTION) -> None:
    """Have the monitors mark a running OSD down (`ceph osd down`); it soon reports itself up again."""
    fault.mark_down(_lab(dir), daemon)
    typer.echo(f"marked {daemon} down")
