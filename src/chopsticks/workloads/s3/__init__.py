"""S3 scenarios: S3Workload and its client, the 0.x driver API with every call timed and recorded."""
from __future__ import annotations

from typing import Any

from chopsticks.backends.s3 import S3Target, ensure_bucket
from chopsticks.config import S3Config
from chopsticks.drivers.s3.base import error_code, error_code_name, listing_ok
from chopsticks.drivers.s3.registry import create_driver
from chopsticks.workloads.base import TimedClient, Workload

UPLOAD, DOWNLOAD, DELETE, LIST, HEAD = range(5)


class S3Client(TimedClient):
    """One user's driver. Like the driver, a failed call returns False/None ([] for a listing)
    and never raises; its error kind (auth, not_found, ...) is recorded on the op."""

    op_names = ("upload", "download", "delete", "list", "head")

    def __init__(self, config: S3Config, recorder):
        super().__init__(recorder)
        self.config = config
        self.driver = create_driver(config)

    @staticmethod
    def prepare(config: S3Config) -> dict:
        """The bench backend's check: endpoint, keys, bucket (created when missing)."""
        return S3Target(config=config, mix=()).prepare(None)

    @staticmethod
    def connect(config: S3Config) -> S3Config:
        """Once per worker: make sure the bucket is usable from this process (mock buckets live in
        the process); each user then opens its own driver."""
        ensure_bucket(config)
        return config

    error_name = staticmethod(error_code_name)

    def _done(self, call, ok: bool, nbytes: int) -> None:
        self._end(call, ok, nbytes, error_code(self.driver.last_error))

    def upload(self, key: str, data: bytes, metadata: dict[str, str] | None = None) -> bool:
        call = self._begin(UPLOAD)
        ok = self.driver.upload(key, data, metadata)
        self._done(call, ok, len(data))
        return ok

    def download(self, key: str) -> bytes | None:
        call = self._begin(DOWNLOAD)
        data = self.driver.download(key)
        self._done(call, data is not None, len(data or b""))
        return data

    def delete(self, key: str) -> bool:
        call = self._begin(DELETE)
        ok = self.driver.delete(key)
        self._done(call, ok, 0)
        return ok

    def list_objects(self, prefix: str | None = None, max_keys: int = 1000) -> list[str]:
        before = self.driver.last_error
        call = self._begin(LIST)
        keys = self.driver.list_objects(prefix or "", max_keys)
        self._done(call, listing_ok(keys, before, self.driver.last_error), 0)
        return keys

    def head_object(self, key: str) -> dict[str, Any] | None:
        call = self._begin(HEAD)
        info = self.driver.head_object(key)
        self._done(call, info is not None, 0)
        return info

    def close(self) -> None:
        self.driver.close()


class S3Workload(Workload):
    """Base of S3 scenarios: `self.client` (upload, download, delete, list_objects, head_object),
    `self.config` (the workload config) and `self.bucket`; for chopsticks 0.x scenarios also
    `self.driver_name` and `self.uploaded_keys` (an empty list to fill)."""

    client_class = S3Client
    abstract = True

    def __init__(self, client: S3Client, index: int, seed: int, payloads):
        super().__init__(client, index, seed, payloads)
        self.config = client.config
        self.bucket = client.config.bucket
        self.driver_name = client.config.driver
        self.uploaded_keys: list[str] = []
