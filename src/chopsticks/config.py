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
_OPTIONAL_S3_KEYS = ("region", "driver", "driver_config", "metrics")
# The `metrics:` section of chopsticks 0.x: `enabled`, `http_host`, `http_port` serve the live
# Prometheus endpoint (as --prometheus does); its daemon's other keys are accepted and ignored.
_METRICS_KEYS = ("enabled", "http_host", "http_port")
_IGNORED_METRICS_KEYS = ("aggregation_window_seconds", "export_dir", "test_name", "persistent")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MetricsConfig:
    """The 0.x `metrics:` section: when enabled, bench and run serve /metrics at http_host:http_port."""

    enabled: bool = False
    http_host: str = "0.0.0.0"
    http_port: int = 8090

    @property
    def address(self) -> str | None:
        """`HOST:PORT` for the Prometheus endpoint, or None when disabled."""
        return f"{self.http_host}:{self.http_port}" if self.enabled else None


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
    metrics: MetricsConfig = field(default_factory=MetricsConfig)

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

    def __getitem__(self, key: str) -> Any:
        """Read like the dict chopsticks 0.x scenarios had as `self.config`: config["bucket"]."""
        return self.as_driver_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.as_driver_dict().get(key, default)

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

    known = _REQUIRED_S3_KEYS + _OPTIONAL_S3_KEYS
    unknown = [k for k in document if k not in known]
    if unknown:
        raise ChopsticksError(f"{path}: unknown key {unknown[0]!r}; allowed keys: {', '.join(known)}")
    missing = [k for k in _REQUIRED_S3_KEYS if k not in document]
    if missing:
        raise ChopsticksError(f"{path}: missing key {missing[0]!r}")
    for key in _REQUIRED_S3_KEYS + ("region", "driver"):
        if key in document:
            require_text(path, key, document[key])
    driver_config = document.get("driver_config")
    if driver_config is not None:
        _require_mapping(path, "driver_config", driver_config)
        if driver_config.get("verify") is False:
            # once here, where the file is read, rather than in every worker's driver
            log.warning("%s: driver_config.verify is false: the TLS certificate of %s is not checked", path,
                        document["endpoint"])

    return S3Config(
        endpoint=_endpoint(path, document["endpoint"]),
        access_key=document["access_key"],
        secret_key=document["secret_key"],
        bucket=document["bucket"],
        region=document.get("region", "us-east-1"),
        driver=document.get("driver", "s5cmd"),
        driver_config=dict(driver_config or {}),
        path=path,
        metrics=_metrics(path, document.get("metrics")),
    )


def _metrics(path: Path, section: Any) -> MetricsConfig:
    """The `metrics:` section checked (a one-line error names the bad key)."""
    if section is None:
        return MetricsConfig()
    _require_mapping(path, "metrics", section)
    allowed = _METRICS_KEYS + _IGNORED_METRICS_KEYS
    unknown = [k for k in section if k not in allowed]
    if unknown:
        raise ChopsticksError(f"{path}: unknown key 'metrics.{unknown[0]}'; allowed keys: {', '.join(allowed)}")
    ignored = [k for k in section if k in _IGNORED_METRICS_KEYS]
    if ignored:
        log.warning("%s: metrics.%s ignored (chopsticks 0.x metrics daemon settings)", path, ", metrics.".join(ignored))
    config = MetricsConfig(**{k: section[k] for k in _METRICS_KEYS if k in section})
    if not isinstance(config.enabled, bool):
        raise ChopsticksError(f"{path}: 'metrics.enabled' must be true or false, got {type(config.enabled).__name__}")
    require_text(path, "metrics.http_host", config.http_host)
    if not isinstance(config.http_port, int) or isinstance(config.http_port, bool) or not 0 < config.http_port < 65536:
        raise ChopsticksError(f"{path}: 'metrics.http_port' must be a port number from 1 to 65535, got {config.http_port!r}")
    return config


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
