"""Find an S3 driver class by name, so that adding a driver never edits chopsticks.

A name is resolved in this order: ``package.module:ClassName``; a built-in driver; a driver that
an installed package registers under the entry point group ``chopsticks.drivers.s3``.
"""
from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from chopsticks.config import S3Config
from chopsticks.drivers.s3.base import BaseS3Driver
from chopsticks.errors import ChopsticksError

ENTRY_POINT_GROUP = "chopsticks.drivers.s3"

# Imported only when chosen, so that e.g. the s5cmd driver never pays for importing boto3.
_BUILTIN_DRIVERS = {
    "s5cmd": "chopsticks.drivers.s3.s5cmd_driver:S5cmdDriver",
    "boto3": "chopsticks.drivers.s3.boto3_driver:Boto3Driver",
    "mock": "chopsticks.drivers.s3.mock_driver:MockDriver",
    "native": "chopsticks.drivers.s3.native_driver:NativeDriver",
}


def known_drivers() -> list[str]:
    """Names accepted by ``driver:`` besides ``module:Class``: built-ins and entry points."""
    return sorted(set(_BUILTIN_DRIVERS) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def driver_class(name: str) -> type[BaseS3Driver]:
    """The driver class called ``name``; a one-line ChopsticksError if there is none."""
    if ":" in name:
        return _import_driver(name, name)
    if name in _BUILTIN_DRIVERS:
        return _import_driver(name, _BUILTIN_DRIVERS[name])
    registered = list(entry_points(group=ENTRY_POINT_GROUP, name=name))
    if registered:
        return _import_driver(name, registered[0].value)
    raise ChopsticksError(
        f"unknown S3 driver {name!r}; known: {', '.join(known_drivers())} (or give package.module:ClassName)"
    )


def create_driver(config: dict[str, Any] | S3Config) -> BaseS3Driver:
    """A connected-to-nothing-yet driver for ``config`` (an S3Config or the 0.x plain dict)."""
    if isinstance(config, S3Config):
        try:
            cls = driver_class(config.driver)
        except ChopsticksError as e:
            if config.path is None:
                raise
            raise ChopsticksError(f"{config.path}: {e}") from None
        return cls(config.as_driver_dict())
    return driver_class(config.get("driver") or "s5cmd")(config)


def unknown_driver_config(config: S3Config) -> str | None:
    """A one-line warning naming the ``driver_config`` keys no driver reads (a typo such as
    ``timeoutt``) and the options of the chosen one, or None. Drivers declare their options in
    ``CONFIG_KEYS``; a key another built-in driver reads passes, since a config written
    for one driver is commonly run with ``--driver`` another."""
    known = driver_class(config.driver).CONFIG_KEYS
    unknown = [key for key in config.driver_config if known is not None and key not in known]
    for name in _BUILTIN_DRIVERS:           # only imported while some key is unaccounted for
        if not unknown:
            return None
        try:
            theirs = driver_class(name).CONFIG_KEYS or ()
        except ChopsticksError:             # a built-in whose dependency is missing
            continue
        unknown = [key for key in unknown if key not in theirs]
    if not unknown:
        return None
    where = f"{config.path}: " if config.path else ""
    return (f"{where}driver_config {'keys' if len(unknown) > 1 else 'key'} {', '.join(map(repr, unknown))} "
            f"ignored: not an option of the {config.driver!r} driver (its options: {', '.join(known) or 'none'})")


def _import_driver(name: str, target: str) -> type[BaseS3Driver]:
    """Import ``module:Class`` and check that it is a BaseS3Driver subclass."""
    module_name, _, class_name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except Exception as e:  # the driver's own module may fail in any way; report it in one line
        reason = " ".join(f"{type(e).__name__}: {e}".split())
        raise ChopsticksError(f"cannot load S3 driver {name!r} from {target!r}: {reason}") from None
    if not (isinstance(cls, type) and issubclass(cls, BaseS3Driver)):
        raise ChopsticksError(f"S3 driver {name!r} ({target}) is not a subclass of {BaseS3Driver.__module__}.BaseS3Driver")
    return cls
