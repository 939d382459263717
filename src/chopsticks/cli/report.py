"""`chopsticks report`: re-read and re-merge result files."""
import typer

app = typer.Typer(help="Read result JSON files written by bench/run.", no_args_is_help=True)
