"""The S3 driver interface kept from chopsticks 0.x, plus the error kinds the engine counts.

A driver never raises from an operation: it returns False/None (``list_objects``: ``[]``) and
leaves the reason in ``last_error`` (None again after an operation that succeeds). Each kind of
error is logged once per driver class and process, then only counted, so a run against a dead
endpoint does not drown the console; set-up and cleanup turn the logging off (``log_errors``)
and say what failed in a line of their own.
"""
from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from chopsticks.errors import ChopsticksError

# The engine records an error's kind by its position in this tuple: append new kinds, never reorder.
ERROR_KINDS: tuple[str, ...] = (
    "auth",            # 403, AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId
    "no_such_bucket",  # NoSuchBucket
    "not_found",       # NoSuchKey, 404
    "timeout",         # no reply within driver_config.timeout
    "connection",      # refused, reset, DNS failure: no HTTP reply at all
    "http_4xx",        # any other 4xx
    "http_5xx",        # any other 5xx
    "throttled",       # SlowDown, 429: the gateway asks the client to back off
    "other",           # anything else (an unparsable reply, a driver bug, ...)
    "tls",             # the TLS handshake failed: certificate or host name not verified, protocol error
)

_KIND_BY_S3_CODE = {
    "AccessDenied": "auth",
    "SignatureDoesNotMatch": "auth",
    "InvalidAccessKeyId": "auth",
    "NoSuchBucket": "no_such_bucket",
    "NoSuchKey": "not_found",
    "NotFound": "not_found",
    "SlowDown": "throttled",
    "TooManyRequests": "throttled",
}

log = logging.getLogger("chopsticks.drivers.s3")
# (driver class, kind) pairs already logged in this process: a run has one driver per simulated
# user, and a dead endpoint should cost one line per kind, not one per user.
_logged_errors: set[tuple[type, str]] = set()


@dataclass(frozen=True)
class DriverError:
    """Why the last operation failed: ``kind`` (one of ERROR_KINDS), the S3 or transport
    ``code`` (``NoSuchKey``, ``404``, ``EndpointConnectionError``, ...) and a one-line ``message``."""

    kind: str
    code: str
    message: str

    def __post_init__(self) -> None:
        if self.kind not in ERROR_KINDS:
            raise ValueError(f"unknown error kind {self.kind!r}; known: {', '.join(ERROR_KINDS)}")


def error_code(error: DriverError | None) -> int:
    """The engine's integer code of a failed call: 1 + the index of its kind ('other' if unset)."""
    return ERROR_KINDS.index(error.kind if error else "other") + 1


def error_code_name(code: int) -> str:
    """The kind named by an engine error code (the inverse of error_code)."""
    return ERROR_KINDS[code - 1] if 1 <= code <= len(ERROR_KINDS) else f"code{code}"


def listing_ok(keys: list[str], before: DriverError | None, after: DriverError | None) -> bool:
    """An empty listing is a failure only if the driver reported a new error for it."""
    return bool(keys) or after is None or after is before


def error_kind(code: str, http_status: int | None = None) -> str:
    """Map an S3 error code and/or HTTP status to one of ERROR_KINDS (shared by all drivers)."""
    if code in _KIND_BY_S3_CODE:
        return _KIND_BY_S3_CODE[code]
    if http_status is None:
        return "other"
    if http_status == 403:
        return "auth"
    if http_status == 404:
        return "not_found"
    if http_status == 429:
        return "throttled"
    if 400 <= http_status < 500:
        return "http_4xx"
    if 500 <= http_status < 600:
        return "http_5xx"
    return "other"


class BaseS3Driver(ABC):
    """One client of one bucket. ``config`` is the plain dict of ``S3Config.as_driver_dict()``:
    endpoint, access_key, secret_key, bucket, region, driver_config.

    ``CONFIG_KEYS`` names the ``driver_config`` options the driver reads: a key that
    neither it nor another built-in driver reads gets one warning before the run (a typo such as
    ``timeoutt`` would otherwise be silently ignored; registry.unknown_driver_config). None, the
    default, means the driver does not say, and every key passes unchecked."""

    CONFIG_KEYS: ClassVar[tuple[str, ...] | None] = None
    log_errors = True       # False: errors are only kept in last_error (set-up, cleanup)

    def __init__(self, config: dict[str, Any]):
        missing = [k for k in ("endpoint", "access_key", "secret_key", "bucket") if not config.get(k)]
        if missing:
            raise ChopsticksError(f"S3 driver config lacks {', '.join(missing)}")
        self.endpoint: str = config["endpoint"]
        self.access_key: str = config["access_key"]
        self.secret_key: str = config["secret_key"]
        self.bucket: str = config["bucket"]
        self.region: str = config.get("region") or "us-east-1"
        self.driver_config: dict[str, Any] = dict(config.get("driver_config") or {})
        self.last_error: DriverError | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(endpoint={self.endpoint!r}, bucket={self.bucket!r})"

    @abstractmethod
    def upload(self, key: str, data: bytes, metadata: dict[str, str] | None = None) -> bool:
        """PUT ``data`` as ``key``; True on success."""

    @abstractmethod
    def download(self, key: str) -> bytes | None:
        """GET ``key``; its bytes, or None on failure (a missing key is kind ``not_found``).
        ``bench s3 --verify`` checks these bytes, and refuses a driver that returns others."""

    @abstractmethod
    def delete(self, key: str) -> bool:
        """DELETE ``key``; True on success (S3 also answers success for a missing key)."""

    @abstractmethod
    def list_objects(self, prefix: str = "", max_keys: int = 1000) -> list[str]:
        """Up to ``max_keys`` keys starting with ``prefix``; [] on failure (see ``last_error``)."""

    @abstractmethod
    def head_object(self, key: str) -> dict[str, Any] | None:
        """``{size, etag, last_modified, metadata}`` of ``key``, or None on failure.

        ``etag`` comes without the surrounding quotes, ``last_modified`` is an aware datetime."""

    def ensure_bucket(self) -> None:
        """Make sure the bucket can be used before a run; raise ChopsticksError in one line if not.

        This default only checks that the bucket can be listed; drivers that can create the
        bucket override it."""
        self.list_objects(max_keys=1)
        if self.last_error is not None:
            raise self.unusable_bucket_error(self.last_error)

    def close(self) -> None:
        """Release connections or processes; the default driver holds none."""

    def unusable_bucket_error(self, error: DriverError) -> ChopsticksError:
        """The one-line error ``ensure_bucket`` raises when the bucket cannot be used."""
        return ChopsticksError(
            f"S3 bucket {self.bucket!r} at {self.endpoint} is not usable: {error.kind}: {error.code}: {error.message}"
        )

    def record_error(self, operation: str, error: DriverError) -> None:
        """Keep ``error`` as ``last_error``; log it if this driver class has not logged its kind yet."""
        self.last_error = error
        if self.log_errors and (type(self), error.kind) not in _logged_errors:
            _logged_errors.add((type(self), error.kind))
            log.warning(
                "%s %s failed: %s: %s: %s (further %r errors are counted, not logged)",
                type(self).__name__, operation, error.kind, error.code, error.message, error.kind,
            )

    def tls_options(self) -> tuple[str | None, bool]:
        """``driver_config.ca_bundle`` (a PEM file of the CAs to trust instead of the system's) and
        ``driver_config.verify`` (check the server's certificate and host name; default true)."""
        ca_bundle = self.driver_config.get("ca_bundle")
        if ca_bundle is not None and not (isinstance(ca_bundle, str) and os.path.isfile(ca_bundle)):
            raise ChopsticksError(f"driver_config.ca_bundle must name a file of CA certificates, got {ca_bundle!r}")
        verify = self.driver_config.get("verify", True)
        if not isinstance(verify, bool):
            raise ChopsticksError(f"driver_config.verify must be true or false, got {verify!r}")
        return ca_bundle, verify

    def option(self, name: str, default: float, *, integer: bool = False, zero_ok: bool = True) -> float:
        """``driver_config[name]`` checked to be a number (an integer if ``integer``) that is >= 0
        (> 0 unless ``zero_ok``), or ``default``; a one-line ChopsticksError otherwise."""
        value = self.driver_config.get(name, default)
        wanted = int if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, wanted) or value < 0 or (value == 0 and not zero_ok):
            bound = ">= 0" if zero_ok else "> 0"
            raise ChopsticksError(f"driver_config.{name} must be {'an integer' if integer else 'a number'} {bound}, got {value!r}")
        return value
