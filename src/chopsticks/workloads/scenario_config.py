"""Scenario parameters (`--scenario-config`): a YAML mapping of scenario name → {key: value},
read once in the parent, carried to each worker in the target, read by scenarios through
get_scenario_value().

The shipped defaults (chopsticks/scenarios/scenario_config_default.yaml) lie under every file: a
key the given file does not set is taken from them, so a config written before a parameter
existed (chopsticks 0.x's `s3_large_objects: {object_size_mb: 1, max_keys_in_memory: 10}`) still
runs the shipped scenarios."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chopsticks.config import read_yaml_mapping
from chopsticks.errors import ChopsticksError

DEFAULT_NAME = "scenario_config_default.yaml"
SHIPPED_DEFAULTS = Path(__file__).resolve().parents[1] / "scenarios" / DEFAULT_NAME


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


def default_path(scenario_file: Path) -> Path:
    """config/scenario_config_default.yaml in the current directory, else next to the scenario's
    directory (scenarios/../config/), else the shipped defaults."""
    for candidate in (Path("config") / DEFAULT_NAME, scenario_file.resolve().parent.parent / "config" / DEFAULT_NAME):
        if candidate.is_file():
            return candidate
    return SHIPPED_DEFAULTS


def load_scenario_config(path: Path | None) -> ScenarioConfig:
    """The parameters in `path` (None: none) over the shipped defaults, key by key; every
    top-level value of a file must be a mapping."""
    values = _read(SHIPPED_DEFAULTS)
    if path is not None:
        for name, section in _read(path).items():
            values[name] = {**values.get(name, {}), **section}
    return ScenarioConfig(str(path or SHIPPED_DEFAULTS), values)


def _read(path: Path) -> dict[str, dict[str, Any]]:
    document = read_yaml_mapping(path)
    for name, section in document.items():
        if section is not None and not isinstance(section, dict):
            raise ChopsticksError(f"{path}: '{name}' must be a mapping of parameters, got {type(section).__name__}")
    return {name: dict(section or {}) for name, section in document.items()}


def activate(config: ScenarioConfig) -> None:
    """Make `config` the one get_scenario_value() reads in this process."""
    global _active
    _active = config


def active() -> ScenarioConfig:
    """The scenario config get_scenario_value() reads in this process."""
    return _active


def get_scenario_value(scenario: str, key: str, required: bool = True) -> Any:
    """The value of `key` under `scenario` in the run's scenario config; a one-line error naming
    the file when it is missing (None instead if not `required`)."""
    return _active.value(scenario, key, required)
