"""The one exception type that the CLI turns into a one-line error and exit status 1."""


class ChopsticksError(Exception):
    """A user-facing failure: bad input, unreachable cluster, missing pool/bucket, ..."""


class Interrupted(ChopsticksError):
    """A stop signal (Ctrl+C, SIGTERM, SIGHUP) arrived before the run started: exit 128 + signum."""

    def __init__(self, signum: int):
        import signal

        self.signum = int(signum)
        super().__init__(f"interrupted by {signal.Signals(signum).name} before the workers started")
