"""chopsticks 0.x's module path for scenario parameters (`from chopsticks.utils.scenario_config import
get_scenario_value`): the same function as chopsticks.workloads.get_scenario_value."""
from chopsticks.workloads.scenario_config import get_scenario_value

__all__ = ["get_scenario_value"]
