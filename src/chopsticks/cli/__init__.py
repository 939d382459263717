"""The `chopsticks` command: typer app assembled from one module per command group."""
import sys

import typer

from chopsticks import __version__
from chopsticks.errors import ChopsticksError, Interrupted

app = typer.Typer(
    name="chopsticks",
    help="A load generator for Ceph: saturate RBD pools and S3 (RGW) endpoints, report the latency tail.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,          # plain help and one-line usage errors, greppable in CI logs
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"chopsticks {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """A load generator for Ceph: saturate RBD pools and S3 (RGW) endpoints, report the latency tail."""


def _register() -> None:
    from chopsticks.cli import bench, lab, report, run, worker

    app.add_typer(bench.app, name="bench")
    app.add_typer(lab.app, name="lab")
    app.add_typer(report.app, name="report")
    run.register(app)
    worker.register(app)


_register()


def main() -> None:
    """Entry point: ChopsticksError becomes `error: ...` on stderr and exit status 1; a stop
    signal before the run started exits 128 + its number (130 for Ctrl+C)."""
    try:
        app()
    except Interrupted as e:
        print(f"chopsticks: {e}", file=sys.stderr)
        sys.exit(128 + e.signum)
    except KeyboardInterrupt:
        print("chopsticks: interrupted", file=sys.stderr)
        sys.exit(130)
    except ChopsticksError as e:
        print(f"chopsticks: error: {e}", file=sys.stderr)
        sys.exit(1)
