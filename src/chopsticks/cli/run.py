"""`chopsticks run`: Python scenarios (weighted tasks over the driver API)."""
import typer


def register(app: typer.Typer) -> None:
    pass
