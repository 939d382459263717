"""Import a scenario file by path (in the parent, then again in each worker) and find its
workload class; find a shipped scenario by name; tell a chopsticks 0.x scenario file by the
names it imports (they run unchanged, through the compatibility names)."""
from __future__ import annotations

import ast
import builtins
import functools
import importlib.util
import re
import sys
import traceback
from pathlib import Path
from types import ModuleType

from chopsticks.errors import ChopsticksError
from chopsticks.workloads import locust_names
from chopsticks.workloads.base import Workload, tasks_of

BUILTIN_EXCEPTIONS = tuple(sorted(name for name, value in vars(builtins).items()
                                  if isinstance(value, type) and issubclass(value, BaseException)))
SHIPPED_SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
# Module paths of the chopsticks 0.x scenario API (besides `locust`), kept as aliases.
COMPAT_MODULES = ("chopsticks.workloads.s3.s3_workload", "chopsticks.utils.scenario_config")
COMPAT_METRICS_NAMES = ("OperationType", "WorkloadType")


def shipped_scenarios() -> list[str]:
    """Names of the scenarios shipped with chopsticks (`chopsticks run -f NAME`)."""
    return sorted(p.stem for p in SHIPPED_SCENARIOS.glob("*.py") if not p.stem.startswith("_"))


def shipped_scenario(name: str) -> Path | None:
    """The shipped scenario file called `name` (with or without .py), or None."""
    stem = name[:-3] if name.endswith(".py") else name
    return SHIPPED_SCENARIOS / f"{stem}.py" if stem in shipped_scenarios() else None


def compat_imports(path: str | Path) -> list[str]:
    """The chopsticks 0.x names a scenario file imports: `locust`, the 0.x module paths,
    OperationType/WorkloadType from chopsticks.metrics; [] for a file written for this API."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return []                   # the import itself reports it
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "locust" or a.name in COMPAT_MODULES]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            if node.module.split(".")[0] == "locust" or node.module in COMPAT_MODULES:
                found.append(node.module)
            elif node.module == "chopsticks.metrics":
                found += [f"chopsticks.metrics.{a.name}" for a in node.names if a.name in COMPAT_METRICS_NAMES]
    return list(dict.fromkeys(found))


@functools.cache
def load_workload(path: str) -> type[Workload]:
    """The one runnable Workload subclass defined in the scenario file at `path`."""
    module = _import(Path(path))
    found = [v for v in vars(module).values()
             if isinstance(v, type) and issubclass(v, Workload) and v.__module__ == module.__name__
             and not vars(v).get("abstract", False)]
    if not found:
        raise ChopsticksError(f"{path}: no workload class: define a class deriving from S3Workload or RBDWorkload")
    if len(found) > 1:
        names = ", ".join(c.__name__ for c in found)
        raise ChopsticksError(f"{path}: several workload classes ({names}): keep one, or set `abstract = True` "
                              "on the others")
    cls = found[0]
    if cls.client_class is None:
        raise ChopsticksError(f"{path}: {cls.__name__} must derive from S3Workload or RBDWorkload")
    if not tasks_of(cls):
        raise ChopsticksError(f"{path}: {cls.__name__} has no @task methods")
    if not callable(cls.wait_time):
        raise ChopsticksError(f"{path}: {cls.__name__}.wait_time must be between(a, b), constant(s) or "
                              "constant_pacing(s)")
    return cls


def exception_names(cls: type[Workload]) -> tuple[str, ...]:
    """Names task failures are counted under: the built-in exceptions, then the exception classes
    the scenario module defines or imports. The same in every process that loads the file."""
    module = sys.modules[cls.__module__]
    own = sorted({v.__name__ for v in vars(module).values()
                  if isinstance(v, type) and issubclass(v, BaseException)} - set(BUILTIN_EXCEPTIONS))
    return BUILTIN_EXCEPTIONS + tuple(own)


def _import(path: Path) -> ModuleType:
    """Execute the file as a module (its directory on sys.path, for its helper modules), with
    `locust` standing for chopsticks' locust_names: the real Locust is never imported."""
    sys.modules["locust"] = locust_names
    name = "chopsticks_scenario_" + re.sub(r"\W", "_", path.stem)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ChopsticksError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except ChopsticksError:
        raise
    except Exception as e:
        del sys.modules[name]
        raise ChopsticksError(f"cannot load scenario {path}: {_where(e, path)}") from None
    return module


def _where(e: Exception, path: Path) -> str:
    """'SyntaxError: invalid syntax (line 12)': the error and its line in the scenario file."""
    line = getattr(e, "lineno", None) if isinstance(e, SyntaxError) else next(
        (f.lineno for f in reversed(traceback.extract_tb(e.__traceback__)) if Path(f.filename) == path), None)
    text = e.msg if isinstance(e, SyntaxError) else str(e)
    if isinstance(e, ImportError) and e.name in ("locust", locust_names.__name__):
        missing = re.search(r"cannot import name '(\w+)'", text)
        text = (f"locust.{missing.group(1) if missing else '...'}: chopsticks runs 0.x scenarios without Locust "
                f"and provides only {', '.join(locust_names.__all__)}")
    return f"{type(e).__name__}: {text}" + (f" (line {line})" if line else "")
