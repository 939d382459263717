"""chopsticks: a load generator for Ceph (RBD and S3/RGW)."""

# The one place the version is written (pyproject.toml reads it): no importlib.metadata at start-up,
# which every spawned worker would pay for again.
__version__ = "0.1.0"
