"""chopsticks: a load generator for Ceph (RBD and S3/RGW)."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("chopsticks")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
