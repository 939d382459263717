"""An in-memory S3 for tests and dry runs, with optional latency and injected failures."""
from __future__ import annotations

import hashlib
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from chopsticks.drivers.s3.base import BaseS3Driver, DriverError
from chopsticks.errors import ChopsticksError


@dataclass(frozen=True)
class _StoredObject:
    data: bytes
    etag: str
    last_modified: datetime
    metadata: dict[str, str]


# Buckets live in the process, keyed by (endpoint, bucket), so that every mock driver of a run
# (one per simulated user) sees the same objects, as clients of one real gateway would.
_buckets: dict[tuple[str, str], dict[str, _StoredObject]] = {}
_buckets_lock = threading.Lock()


class MockDriver(BaseS3Driver):
    """S3 semantics without a network. ``driver_config``: ``latency_ms`` added to every
    operation, ``failure_rate`` (0..1) of operations that fail with ``http_5xx``, ``seed`` for
    a reproducible failure sequence."""

    CONFIG_KEYS = ("latency_ms", "failure_rate", "seed")

    def __init__(self, config: dict[str, Any]):
        super().__init__(config)
        self.latency_s = self.option("latency_ms", 0) / 1000
        self.failure_rate = self.option("failure_rate", 0)
        if self.failure_rate > 1:
            raise ChopsticksError(f"driver_config.failure_rate must be between 0 and 1, got {self.failure_rate!r}")
        seed = self.driver_config.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ChopsticksError(f"driver_config.seed must be an integer, got {seed!r}")
        self._random = random.Random(seed)
        self._random_lock = threading.Lock()

    def ensure_bucket(self) -> None:
        """Create the bucket if missing (the mock always allows it)."""
        with _buckets_lock:
            _buckets.setdefault((self.endpoint, self.bucket), {})

    def upload(self, key: str, data: bytes, metadata: dict[str, str] | None = None) -> bool:
        objects = self._objects("upload")
        if objects is None:
            return False
        stored = _StoredObject(bytes(data), hashlib.md5(data).hexdigest(), datetime.now(timezone.utc), dict(metadata or {}))
        with _buckets_lock:
            objects[key] = stored
        return True

    def download(self, key: str) -> bytes | None:
        stored = self._stored_object("download", key)
        return None if stored is None else stored.data

    def delete(self, key: str) -> bool:
        objects = self._objects("delete")
        if objects is None:
            return False
        with _buckets_lock:
            objects.pop(key, None)
        return True

    def list_objects(self, prefix: str = "", max_keys: int = 1000) -> list[str]:
        objects = self._objects("list_objects")
        if objects is None:
            return []
        with _buckets_lock:
            keys = [k for k in objects if k.startswith(prefix)]
        return sorted(keys)[:max_keys]

    def head_object(self, key: str) -> dict[str, Any] | None:
        stored = self._stored_object("head_object", key)
        if stored is None:
            return None
        return {"size": len(stored.data), "etag": stored.etag, "last_modified": stored.last_modified,
                "metadata": dict(stored.metadata)}

    def _stored_object(self, operation: str, key: str) -> _StoredObject | None:
        """``key``'s stored object, or None with ``not_found`` recorded."""
        objects = self._objects(operation)
        if objects is None:
            return None
        stored = objects.get(key)
        if stored is None:
            self.record_error(operation, DriverError("not_found", "NoSuchKey", f"no object {key!r} in bucket {self.bucket!r}"))
        return stored

    def _objects(self, operation: str) -> dict[str, _StoredObject] | None:
        """The bucket's objects once the configured latency has passed and no failure was
        injected; None with ``last_error`` set otherwise."""
        if self.latency_s:
            time.sleep(self.latency_s)
        with self._random_lock:
            injected = self.failure_rate and self._random.random() < self.failure_rate
        if injected:
            self.record_error(operation, DriverError("http_5xx", "InternalError", "injected by driver_config.failure_rate"))
            return None
        objects = _buckets.get((self.endpoint, self.bucket))
        if objects is None:
            self.record_error(operation, DriverError("no_such_bucket", "NoSuchBucket", f"no bucket {self.bucket!r} (call ensure_bucket first)"))
            return None
        self.last_error = None
        return objects
