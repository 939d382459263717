"""Workload configuration files: read, validated and turned into frozen dataclasses.

This is the only module that reads files given by the user, so every mistake in them becomes a
one-line ChopsticksError naming the file and the key here, and nothing downstream re-checks.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from chopsticks.errors import ChopsticksError

S3_CONFIG_ENV = "S3_CONFIG_PATH"

_REQUIRED_S3_KEYS = ("endpoint", "access_key", "secret_key", "bucket")
_OPTIONAL_S3_KEYS = ("region", "driver", "driver_config")
# chopsticks 0.x configs carry a `metrics:` section for its Prometheus daemon. It is accepted so
# those files still load, and ignored: results go to the run's CSV/JSON files instead.
_IGNORED_S3_KEYS = ("metrics",)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class S3Config:
    """Where and how the S3 workload connects. ``repr`` hides the secret key."""

    endpoint: str
    access_key: str
    secret_key: str = field(repr=False)
    bucket: str
    region: str = "us-east-1"
    driver: str = "s5cmd"
    driver_config: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def as_driver_dict(self) -> dict[str, Any]:
        """The plain dict a driver's constructor receives (the chopsticks 0.x driver API)."""
        return {
            "endpoint": self.endpoint,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "bucket": self.bucket,
            "region": self.region,
            "driver": self.driver,
            "driver_config": dict(self.driver_config),
        }

    def redacted(self) -> dict[str, Any]:
        """The config as it may appear in result files and logs: the secret key is masked."""
        return {**self.as_driver_dict(), "secret_key": "***", "path": str(self.path) if self.path else None}


def load_s3_config(path: str | Path | None) -> S3Config:
    """Read and validate an S3 workload YAML file; ``None`` means the file named by $S3_CONFIG_PATH."""
    if path is None:
        path = os.environ.get(S3_CONFIG_ENV)
        if not path:
            raise ChopsticksError(f"no S3 config given: pass --workload-config or set {S3_CONFIG_ENV}")
    path = Path(path)
    document = read_yaml_mapping(path)

    known = _REQUIRED_S3_KEYS + _OPTIONAL_S3_KEYS + _IGNORED_S3_KEYS
    unknown = [k for k in document if k not in known]
    if unknown:
        raise ChopsticksError(f"{path}: unknown key {unknown[0]!r}; allowed keys: {', '.join(known)}")
    missing = [k for k in _REQUIRED_S3_KEYS if k not in document]
    if missing:
        raise ChopsticksError(f"{path}: missing key {missing[0]!r}")
    for key in _REQUIRED_S3_KEYS + ("region", "driver"):
        if key in document:
            require_text(path, key, document[key])
    if "metrics" in document:
        _require_mapping(path, "metrics", document["metrics"])
        log.warning("%s: the 'metrics' section is ignored (chopsticks writes CSV/JSON result files instead)", path)
    driver_config = document.get("driver_config")
    if driver_config is not None:
        _require_mapping(path, "driver_config", driver_config)

    return S3Config(
        endpoint=_endpoint(path, document["endpoint"]),
        access_key=document["access_key"],
        secret_key=document["secret_key"],
        bucket=document["bucket"],
        region=document.get("region", "us-east-1"),
        driver=document.get("driver", "s5cmd"),
        driver_config=dict(driver_config or {}),
        path=path,
    )


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """The file's top-level YAML mapping; a one-line error if unreadable, invalid or not a mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ChopsticksError(f"cannot read config file {path}: {reason}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or "syntax error"
        raise ChopsticksError(f"{path}: invalid YAML{where}: {problem}") from None
    if not isinstance(document, dict):
        raise ChopsticksError(f"{path}: expected a mapping of keys at the top level, got {type(document).__name__}")
    return document


def require_text(path: Path, key: str, value: Any) -> None:
    """A non-empty string; the error names the type only, so a mistyped secret is not echoed."""
    if isinstance(value, str) and value.strip():
        return
    got = "an empty string" if isinstance(value, str) else type(value).__name__
    hint = " (quote it in YAML)" if isinstance(value, (int, float)) else ""
    raise ChopsticksError(f"{path}: {key!r} must be a non-empty string, got {got}{hint}")


def _require_mapping(path: Path, key: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise ChopsticksError(f"{path}: {key!r} must be a mapping, got {type(value).__name__}")


def _endpoint(path: Path, url: str) -> str:
    """``url`` checked to be http(s)://host[:port] (a trailing slash is dropped)."""
    bad = ChopsticksError(f"{path}: 'endpoint' must look like http(s)://host[:port], got {url!r}")
    parts = urlsplit(url.strip())
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if (parts.scheme not in ("http", "https") or not parts.hostname or not port_ok
            or parts.username is not None or parts.path not in ("", "/") or parts.query or parts.fragment):
        raise bad
    return f"{parts.scheme}://{parts.netloc}"
