"""The one exception type that the CLI turns into a one-line error and exit status 1."""


class ChopsticksError(Exception):
    """A user-facing failure: bad input, unreachable cluster, missing pool/bucket, ..."""
