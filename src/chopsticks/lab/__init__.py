"""`chopsticks lab`: a throw-away single-node Ceph cluster (mon, mgr, memstore OSD, RGW) on loopback.

Other commands use the running lab as their default target: `find_running()` returns its LabInfo.
"""
from chopsticks.lab.cluster import default_dir, down, env_vars, find_running, status, up
from chopsticks.lab.state import LabInfo

__all__ = ["LabInfo", "default_dir", "down", "env_vars", "find_running", "status", "up"]
