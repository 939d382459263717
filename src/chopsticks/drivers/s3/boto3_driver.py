"""S3 through boto3: one HTTP connection pool per driver, no hidden retries."""
from __future__ import annotations

import warnings
from typing import Any, Callable, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    SSLError,
)

from urllib3.exceptions import InsecureRequestWarning

from chopsticks.drivers.s3.base import BaseS3Driver, DriverError, error_kind

T = TypeVar("T")


class Boto3Driver(BaseS3Driver):
    """``driver_config``: ``timeout`` (s, connect and read, default 30), ``retries`` (extra
    attempts after a failure, default 0 so that every failure is seen and counted),
    ``ca_bundle`` and ``verify`` (https: the CAs to trust, whether to check the certificate)."""

    CONFIG_KEYS = ("timeout", "retries", "ca_bundle", "verify")

    def __init__(self, config: dict[str, Any]):
        super().__init__(config)
        timeout = self.option("timeout", 30, zero_ok=False)
        ca_bundle, verify = self.tls_options()
        if not verify:
            # the config's loader warned once; urllib3 would warn again on every request
            warnings.filterwarnings("ignore", category=InsecureRequestWarning)
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            verify=(ca_bundle or True) if verify else False,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(
                connect_timeout=timeout,
                read_timeout=timeout,
                # botocore's max_attempts counts retries, not the first attempt.
                retries={"max_attempts": self.option("retries", 0, integer=True), "mode": "standard"},
                # RGW serves buckets by path; virtual-host style needs wildcard DNS.
                s3={"addressing_style": "path"},
                # Checksums only where S3 requires them, as s5cmd does: botocore's default CRC32
                # of every payload is client CPU that would be counted as gateway latency.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def ensure_bucket(self) -> None:
        """Create the bucket if HEAD says it is missing; any other failure is a one-line error."""
        if self._call("head_bucket", lambda: self.client.head_bucket(Bucket=self.bucket)) is not None:
            return
        if self.last_error.kind == "not_found":
            if self._call("create_bucket", lambda: self.client.create_bucket(Bucket=self.bucket)) is not None:
                return
        raise self.unusable_bucket_error(self.last_error)

    def upload(self, key: str, data: bytes, metadata: dict[str, str] | None = None) -> bool:
        return self._call("upload", lambda: self.client.put_object(
            Bucket=self.bucket, Key=key, Body=data, Metadata=metadata or {})) is not None

    def download(self, key: str) -> bytes | None:
        return self._call("download", lambda: self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def delete(self, key: str) -> bool:
        return self._call("delete", lambda: self.client.delete_object(Bucket=self.bucket, Key=key)) is not None

    def list_objects(self, prefix: str = "", max_keys: int = 1000) -> list[str]:
        reply = self._call("list_objects", lambda: self.client.list_objects_v2(
            Bucket=self.bucket, Prefix=prefix, MaxKeys=max_keys))
        return [] if reply is None else [obj["Key"] for obj in reply.get("Contents", [])]

    def head_object(self, key: str) -> dict[str, Any] | None:
        reply = self._call("head_object", lambda: self.client.head_object(Bucket=self.bucket, Key=key))
        if reply is None:
            return None
        return {"size": reply["ContentLength"], "etag": reply["ETag"].strip('"'),
                "last_modified": reply["LastModified"], "metadata": reply.get("Metadata", {})}

    def close(self) -> None:
        self.client.close()

    def _call(self, operation: str, request: Callable[[], T]) -> T | None:
        """``request()``'s result, or None with the failure recorded as ``last_error``."""
        try:
            result = request()
        except (ClientError, BotoCoreError) as e:
            self.record_error(operation, _driver_error(e))
            return None
        self.last_error = None
        return result


def _driver_error(e: ClientError | BotoCoreError) -> DriverError:
    """Classify a botocore exception into a DriverError."""
    message = " ".join(str(e).split())
    if isinstance(e, ClientError):
        code = e.response.get("Error", {}).get("Code", "")
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return DriverError(error_kind(code, status), code or str(status), message)
    if isinstance(e, SSLError):
        return DriverError("tls", type(e).__name__, message)
    if isinstance(e, (ConnectTimeoutError, ReadTimeoutError)):
        return DriverError("timeout", type(e).__name__, message)
    if isinstance(e, (EndpointConnectionError, ConnectionClosedError)):
        return DriverError("connection", type(e).__name__, message)
    return DriverError("other", type(e).__name__, message)
