"""`chopsticks bench`: raw-throughput saturation tests (rbd, s3, null)."""
import typer

app = typer.Typer(help="Raw-throughput saturation tests on the compiled engine.", no_args_is_help=True)
