"""`python -m chopsticks` and the `chopsticks` console script.

The CLI is imported inside main(): under the spawn start method every worker process re-imports
the parent's main module, and a worker needs none of typer or the commands."""
import os

# numpy's OpenBLAS starts a thread per CPU as it loads, and each spins ~0.1 s of CPU waiting for
# work that never comes (chopsticks does no linear algebra): a third of a short run's CPU.
# Set before numpy is first imported; a value the user set is kept.
BLAS_THREADS = {"OPENBLAS_NUM_THREADS": "1"}


def main() -> None:
    for name, value in BLAS_THREADS.items():
        os.environ.setdefault(name, value)
    from chopsticks.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
