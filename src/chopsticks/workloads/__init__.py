"""The scenario API of `chopsticks run`: derive from S3Workload or RBDWorkload, mark methods with
`@task(weight)` (and `@tag(name)` for --tags/--exclude-tags), pace them with
`wait_time = between(a, b)`, `constant(s)` or `constant_pacing(s)`, and read parameters with
get_scenario_value()."""
from chopsticks.workloads.base import Workload, between, constant, constant_pacing, tag, task
from chopsticks.workloads.rbd import RBDWorkload
from chopsticks.workloads.s3 import S3Workload
from chopsticks.workloads.scenario_config import get_scenario_value

__all__ = ["RBDWorkload", "S3Workload", "Workload", "between", "constant", "constant_pacing", "get_scenario_value",
           "tag", "task"]
