"""`python -m chopsticks` and the `chopsticks` console script.

The CLI is imported inside main(): under the spawn start method every worker process re-imports
the parent's main module, and a worker needs none of typer or the commands."""


def main() -> None:
    from chopsticks.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
