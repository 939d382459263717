"""`chopsticks lab`: a throw-away single-node Ceph cluster on loopback."""
import typer

app = typer.Typer(help="Start, inspect and stop a throw-away single-node Ceph cluster on loopback.", no_args_is_help=True)
