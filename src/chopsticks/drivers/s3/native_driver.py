"""S3 through chopsticks' compiled client (``_fast/s3_loop.pyx``): each call is one blocking
request on a keep-alive HTTP/1.1 connection (``http://`` or ``https://``), signed with SigV4, the
GIL released while it waits."""
from __future__ import annotations

import errno
import ipaddress
import socket
import xml.etree.ElementTree as ElementTree
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

from chopsticks.drivers.s3.base import (_KIND_BY_S3_CODE, BaseS3Driver, DriverError, error_code, error_code_name,
                                        error_kind)
from chopsticks.errors import ChopsticksError
from chopsticks.extensions import compiled

# The S3 error codes the compiled loop tells apart (those that decide an error's kind); any other
# error reply is known by its HTTP status.
S3_CODES = tuple(_KIND_BY_S3_CODE)
RETRIED_KINDS = ("connection", "timeout", "http_5xx", "throttled")
MIB = 1 << 20


def s3_loop():
    """The compiled client module, or a one-line error saying how to build it."""
    return compiled("s3_loop", "the compiled S3 client", "libssl-dev")


def failure(code: int) -> tuple[str, str]:
    """(kind, detail) of a failure code of the compiled client: the kind is one of ERROR_KINDS,
    the detail the S3 error code, the HTTP status or the errno name (EOF: the server hung up)."""
    codes = s3_loop().CODES
    if codes["s3"] <= code < codes["s3"] + len(S3_CODES):
        s3_code = S3_CODES[code - codes["s3"]]
        return error_kind(s3_code), s3_code
    if codes["http"] <= code < codes["errno"]:
        status = code - codes["http"]
        return error_kind("", status), str(status)
    if codes["errno"] <= code <= codes["errno_max"]:
        err = code - codes["errno"]
        return "connection", errno.errorcode.get(err, f"errno{err}") if err else "EOF"
    if code in (codes["tls"], codes["tls_verify"]):
        return "tls", "verify" if code == codes["tls_verify"] else "handshake"
    kind = error_code_name(code)
    return kind, kind


def failure_name(code: int) -> str:
    """'not_found:NoSuchKey', 'http_5xx:503', 'connection:ECONNRESET', 'timeout', ..."""
    kind, detail = failure(code)
    return kind if detail == kind else f"{kind}:{detail}"


class NativeDriver(BaseS3Driver):
    """``driver_config``: ``timeout`` (s per request, connect included, default 30), ``retries``
    (extra attempts after a connection, timeout, 5xx or throttling failure, default 0),
    ``multipart_threshold`` and ``multipart_part_size`` (bytes, default 8 MiB each: larger
    uploads go in parts), ``payload_sha256`` (sign the payload's SHA-256 instead of
    UNSIGNED-PAYLOAD), ``tcp_nodelay`` and ``tcp_quickack`` (socket options, default off),
    ``ca_bundle`` and ``verify`` (https: the CAs to trust, whether to check the certificate)."""

    CONFIG_KEYS = ("timeout", "retries", "multipart_threshold", "multipart_part_size", "payload_sha256",
                   "tcp_nodelay", "tcp_quickack", "ca_bundle", "verify")

    def __init__(self, config: dict[str, Any]):
        super().__init__(config)
        self.timeout_s = self.option("timeout", 30, zero_ok=False)
        self.ca_bundle, self.verify = self.tls_options()
        self.retries = self.option("retries", 0, integer=True)
        self.multipart_threshold = self.option("multipart_threshold", 8 * MIB, integer=True, zero_ok=False)
        self.part_size = self.option("multipart_part_size", 8 * MIB, integer=True, zero_ok=False)
        self.flags = {name: self._flag(name) for name in ("payload_sha256", "tcp_nodelay", "tcp_quickack")}
        self.client = self.new_client(connections=1)

    def _flag(self, name: str) -> bool:
        value = self.driver_config.get(name, False)
        if not isinstance(value, bool):
            raise ChopsticksError(f"driver_config.{name} must be true or false, got {value!r}")
        return value

    def new_client(self, connections: int):
        """A compiled client of this endpoint with `connections` connections (not yet open)."""
        try:
            return s3_loop().S3Client(**self.client_options(connections))
        except ValueError as e:                 # a CA bundle without certificates, a name too long
            raise ChopsticksError(f"S3 endpoint {self.endpoint}: {e}") from None

    def client_options(self, connections: int) -> dict[str, Any]:
        """The compiled client's settings for this endpoint, keys and options."""
        url = urlsplit(self.endpoint)
        tls = url.scheme == "https"
        port = url.port or (443 if tls else 80)
        try:
            family, _, _, _, address = socket.getaddrinfo(url.hostname, port, type=socket.SOCK_STREAM)[0]
        except OSError as e:
            raise ChopsticksError(f"cannot resolve {url.hostname}: {e.strerror or e}") from None
        return {"family": int(family), "address": address[0], "port": port, "host": url.netloc,
                "access_key": self.access_key, "secret_key": self.secret_key, "region": self.region,
                "connections": connections, "timeout_s": float(self.timeout_s), "s3_codes": S3_CODES,
                # the engine's codes of the two failures the client names itself
                "timeout_code": error_code(DriverError("timeout", "", "")), "other_code": error_code(None),
                "tls_host": url.hostname if tls else "", "tls_host_is_ip": tls and _is_ip(url.hostname),
                "ca_bundle": self.ca_bundle or "", "verify": self.verify, **self.flags}

    def ensure_bucket(self) -> None:
        """Create the bucket if HEAD says it is missing; any other failure is a one-line error."""
        if self._call("head_bucket", "HEAD", None) is not None:
            return
        if self.last_error.kind == "not_found" and self._call("create_bucket", "PUT", None) is not None:
            return
        raise self.unusable_bucket_error(self.last_error)

    def upload(self, key: str, data: bytes, metadata: dict[str, str] | None = None) -> bool:
        headers = "".join(f"x-amz-meta-{k.lower()}:{v.strip()}\n" for k, v in sorted((metadata or {}).items()))
        if len(data) > self.multipart_threshold:
            return self._multipart_upload(key, data, headers.encode())
        return self._call("upload", "PUT", key, headers=headers.encode(), body=data) is not None

    def download(self, key: str) -> bytes | None:
        reply = self._call("download", "GET", key)
        return None if reply is None else reply[1]

    def delete(self, key: str) -> bool:
        return self._call("delete", "DELETE", key) is not None

    def list_objects(self, prefix: str = "", max_keys: int = 1000) -> list[str]:
        """ListObjectsV2, following continuation tokens until max_keys keys or the last page."""
        keys = [key for page in self.key_pages(prefix, max_keys) for key in page]
        return [] if self.last_error is not None else keys

    def key_pages(self, prefix: str, max_keys: int | None = None):
        """The keys under prefix, a page (up to 1,000) at a time, up to max_keys (None: all); a
        failed page ends them, with last_error set."""
        params, listed = {"list-type": "2", "prefix": prefix}, 0
        while max_keys is None or listed < max_keys:
            params["max-keys"] = str(1000 if max_keys is None else min(1000, max_keys - listed))
            reply = self._call("list_objects", "GET", None, params)
            if reply is None:
                return
            root = ElementTree.fromstring(reply[1])
            page = [k.text or "" for k in root.iterfind("{*}Contents/{*}Key")]
            listed += len(page)
            yield page
            token = root.findtext("{*}NextContinuationToken")
            if root.findtext("{*}IsTruncated") != "true" or not token:
                return
            params["continuation-token"] = token

    def head_object(self, key: str) -> dict[str, Any] | None:
        reply = self._call("head_object", "HEAD", key)
        if reply is None:
            return None
        fields = reply[0]
        return {"size": int(fields.get("content-length", 0)), "etag": fields.get("etag", "").strip('"'),
                "last_modified": parsedate_to_datetime(fields["last-modified"]),
                "metadata": {k[len("x-amz-meta-"):]: v for k, v in fields.items() if k.startswith("x-amz-meta-")}}

    def close(self) -> None:
        self.client.close()

    def _multipart_upload(self, key: str, data: bytes, headers: bytes) -> bool:
        """Initiate, upload the parts, complete; abort the upload if a part fails."""
        reply = self._call("upload", "POST", key, {"uploads": ""}, headers=headers)
        if reply is None:
            return False
        upload_id = ElementTree.fromstring(reply[1]).findtext("{*}UploadId") or ""
        view, parts = memoryview(data), []
        for number, offset in enumerate(range(0, len(data), self.part_size), start=1):
            part = self._call("upload", "PUT", key, {"partNumber": str(number), "uploadId": upload_id},
                              body=view[offset:offset + self.part_size])
            if part is None:
                failed = self.last_error
                self._call("abort_upload", "DELETE", key, {"uploadId": upload_id})
                self.last_error = failed
                return False
            parts.append(f"<Part><PartNumber>{number}</PartNumber><ETag>{part[0].get('etag', '')}</ETag></Part>")
        document = f"<CompleteMultipartUpload>{''.join(parts)}</CompleteMultipartUpload>".encode()
        reply = self._call("upload", "POST", key, {"uploadId": upload_id}, body=document)
        if reply is not None and _error_document(reply[1])[0]:
            # S3 may answer 200 to a complete that failed, with the error in the body.
            s3_code, message = _error_document(reply[1])
            self.record_error("upload", DriverError(error_kind(s3_code), s3_code, message))
            return False
        return reply is not None

    def path(self, key: str | None) -> bytes:
        """The URI-encoded path of key in the bucket (of the bucket itself for None)."""
        path = f"/{self.bucket}" if key is None else f"/{self.bucket}/{quote(key, safe='/~')}"
        return path.encode()

    def _call(self, operation: str, method: str, key: str | None, params: dict[str, str] | None = None,
              headers: bytes = b"", body=b"") -> tuple[dict[str, str], bytes] | None:
        """(reply headers, reply body) of a 2xx reply, or None with last_error set; failures of
        the kinds in RETRIED_KINDS are tried again up to `retries` times."""
        query = canonical_query(params or {})
        for attempt in range(self.retries + 1):
            code, status, head, reply = self.client.request(method, self.path(key), query, headers, body)
            error = self._error(code, status, reply)
            if error is None:
                self.last_error = None
                return _header_fields(head), reply
            if error.kind not in RETRIED_KINDS:
                break
        self.record_error(operation, error)
        return None

    def _error(self, code: int, status: int, body: bytes) -> DriverError | None:
        if code:
            kind, detail = failure(code)
            if (kind, detail) == ("tls", "verify"):
                return DriverError(kind, detail, f"certificate verify failed for {urlsplit(self.endpoint).hostname}: "
                                                 f"{self.client.tls_verify_error}")
            return DriverError(kind, detail, f"{detail} from {self.endpoint}")
        if status < 300:
            return None
        s3_code, message = _error_document(body)
        return DriverError(error_kind(s3_code, status), s3_code or str(status), message or f"HTTP {status}")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def canonical_query(params: dict[str, str]) -> bytes:
    """SigV4's canonical query string: URI-encoded name=value pairs in name order."""
    return "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in sorted(params.items())).encode()


def _header_fields(head: bytes) -> dict[str, str]:
    """Lower-cased header names → values of a reply's header block."""
    fields = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    return fields


def _error_document(body: bytes) -> tuple[str, str]:
    """(Code, Message) of an S3 error reply; empty strings when the body has none."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return "", ""
    return root.findtext("Code") or "", " ".join((root.findtext("Message") or "").split())
