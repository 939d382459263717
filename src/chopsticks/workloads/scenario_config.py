"""Scenario parameters (`--scenario-config`): a YAML mapping of scenario name → {key: value},
read once in the parent, carried to each worker in the target, read by scenarios through
get_scenario_value()."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chopsticks.config import read_yaml_mapping
from chopsticks.errors import ChopsticksError

DEFAULT_NAME = "scenario_config_default.yaml"


@dataclass(frozen=True)
class ScenarioConfig:
    path: str | None                                # None: no file was found
    values: dict[str, dict[str, Any]] = field(default_factory=dict)

    def value(self, scenario: str, key: str, required: bool = True) -> Any:
        section = self.values.get(scenario) or {}
        if key in section:
            return section[key]
        if not required:
            return None
        where = self.path or f"no scenario config (pass --scenario-config, or create config/{DEFAULT_NAME})"
        raise ChopsticksError(f"scenario parameter '{key}' of '{scenario}' is not set: {where}")


_active = ScenarioConfig(None)


def default_path(scenario_file: Path) -> Path | None:
    """config/scenario_config_default.yaml in the current directory, else next to the scenario's
    directory (scenarios/../config/), else None."""
    for candidate in (Path("config") / DEFAULT_NAME, scenario_file.resolve().parent.parent / "config" / DEFAULT_NAME):
        if candidate.is_file():
            return candidate
    return None


def load_scenario_config(path: Path | None) -> ScenarioConfig:
    """Read and check a scenario config file (every top-level value a mapping); None → empty."""
    if path is None:
        return ScenarioConfig(None)
    document = read_yaml_mapping(path)
    for name, section in document.items():
        if section is not None and not isinstance(section, dict):
            raise ChopsticksError(f"{path}: '{name}' must be a mapping of parameters, got {type(section).__name__}")
    return ScenarioConfig(str(path), {name: dict(section or {}) for name, section in document.items()})


def activate(config: ScenarioConfig) -> None:
    """Make `config` the one get_scenario_value() reads in this process."""
    global _active
    _active = config


def get_scenario_value(scenario: str, key: str, required: bool = True) -> Any:
    """The value of `key` under `scenario` in the run's scenario config; a one-line error naming
    the file when it is missing (None instead if not `required`)."""
    return _active.value(scenario, key, required)
