"""`chopsticks report`: re-read result files written by bench."""
from pathlib import Path
from typing import Annotated

import orjson
import typer

from chopsticks.errors import ChopsticksError
from chopsticks.metrics.export import table

app = typer.Typer(help="Read result JSON files written by `chopsticks bench --json`.", no_args_is_help=True)


@app.command()
def show(path: Annotated[Path, typer.Argument(help="A result file from --json.")]) -> None:
    """Print the summary table of a saved result."""
    try:
        doc = orjson.loads(path.read_bytes())
        rows = doc["summary"]
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as e:
        raise ChopsticksError(f"{path}: not a chopsticks result file ({e})") from None
    print(" ".join(doc.get("command", [])))
    print(table(rows))
    print(f"measured {doc['measured_s']:.2f}s, started {doc['started_at']}")
    if doc.get("partial"):
        print("PARTIAL RESULT: " + "; ".join(doc.get("notes", [])))
