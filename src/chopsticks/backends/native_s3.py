"""The S3 backend on the compiled client (_fast/s3_loop.pyx): each worker keeps --concurrency
keep-alive connections busy from one epoll loop without the GIL, signing every request itself;
no Python call per operation. Same knobs as the Python-driver backend (mix, sizes, prefill,
cleanup); chosen with `driver: native`.

Besides put, get, delete, head and list, four op slots time parts of other operations:
`get.ttfb` (a successful GET's time from sending to the first byte of the reply), `reconnect`
(the TCP connect an operation had to make first, after its connection failed or was closed by
the server), `tls_handshake` (the TLS handshake that followed such a connect, on https) and
`put.part` (each part of a multipart PUT; the `put` row times the whole object).
Error names are `kind` or `kind:detail` with kind one of ERROR_KINDS and detail the S3 error
code, the HTTP status, the socket errno or the TLS failure (native_driver.failure_name), or
`verify`: with --verify, a GET whose body did not match what this worker PUT there (the first
few are described in the worker's report line, by key and byte). A --verify run that writes with
--no-cleanup keeps a verify map (backends/verify_map.py) in the Python drivers' fields, its keys
named the native way; --verify-against goes on from one, as the drivers do."""
from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import quote

import numpy as np

from chopsticks._fast.payload import STAMP_LAYOUT
from chopsticks.backends import verify_map
from chopsticks.backends.s3 import S3Target, key_base, verify_text_by_key
from chopsticks.drivers.s3.native_driver import NativeDriver, canonical_query, failure_name, s3_loop
from chopsticks.errors import ChopsticksError


@dataclass(frozen=True)
class NativeS3Target(S3Target):
    range_size: int = 0                 # GETs read this many bytes at a random offset (0: whole objects)
    existing: str | None = None         # GET/HEAD the objects already under this prefix, nothing else
    multipart_threshold: int = 0        # PUTs of larger objects go up in parts of part_size (0: never)
    part_size: int = 8 << 20
    key_scheme: ClassVar[str] = "native"     # a worker's key base + serial, its objects spread over its connections
    derived_ops: ClassVar[tuple[str, ...]] = ("get.ttfb", "reconnect", "tls_handshake", "put.part")
    supports_rate: ClassVar[bool] = True    # the loop follows _fast/engine.pxd's schedule

    def needs_prefill(self) -> bool:
        return self.existing is None and super().needs_prefill()

    @property
    def op_names(self) -> tuple[str, ...]:
        return s3_loop().OP_NAMES

    def open_worker(self, plan, index: int) -> NativeS3Session:
        return NativeS3Session(self, plan, index)

    def verify_body_bytes(self) -> int:
        """--verify: the stamped body buffer each connection keeps (_fast/s3/load.pyx)."""
        return s3_loop().verify_body_bytes(self.size_max, self.multipart_threshold, self.part_size)

    def error_name(self, code: int) -> str:
        return failure_name(code)


class NativeS3Session:
    def __init__(self, target: NativeS3Target, plan, index: int):
        self.target, self.index = target, index
        driver = NativeDriver(target.config.as_driver_dict())   # validates driver_config
        driver.close()
        earlier = verify_map.VerifyMap(target.verify_against) if target.verify_against else None
        extra = earlier.extra(index) if earlier is not None else {}
        prefix = self.prefix = (str(extra["base"]) if earlier is not None
                                else key_base(target.prefix, index) + "/")
        self.client = driver.new_client(connections=plan.max_inflight)
        code = self.client.connect()
        if code:
            raise ChopsticksError(f"cannot connect to {target.config.endpoint}: {failure_name(code)}")
        self.load = s3_loop().S3Load(
            self.client, base=driver.path(prefix), bucket_path=driver.path(None),
            list_query=canonical_query({"list-type": "2", "max-keys": "1000", "prefix": prefix}),
            size_min=target.size_min, size_max=target.size_max, seed=plan.worker_seed(index),
            range_size=target.range_size, multipart_threshold=target.multipart_threshold,
            part_size=target.part_size, verify=target.verify, worker_index=index)
        if earlier is not None:
            last_seq, writes = earlier.worker(index)
            self.load.go_on_from(last_seq, extra["sizes"], extra["threads"], writes)
        if target.existing is not None:
            self.load.use_existing(*existing_keys(target))
        if target.needs_prefill():
            self.load.prefill(target.objects)
        self.mix = [(self.target.op_names.index(op), weight) for op, weight in target.mix]

    def run(self, hist, ts, errors, stop, spec: dict) -> dict:
        out = self.load.run(hist, ts, errors, stop, {**spec, "mix": self.mix})
        report = self.load.verify_report()
        if report is not None:
            out["report"] = self._verify_text(report)
        if self.target.keeps_verify_map:
            self._save_verify_map()
        return out

    def _save_verify_map(self) -> None:
        """Leave this worker's verify map for the parent, in the drivers' fields: per serial the
        object's last write seq (0: none held), size and connection (-1), the key base (keys are
        base + serial in serial_digits digits) and the write count; an earlier object whose
        rewrite failed is left out, its state unknown."""
        serials, sizes, seqs, conns = self.load.objects()
        count = self.load.writes + 1                    # serials 1 .. writes
        last_seq, size_of = np.zeros(count, np.uint64), np.zeros(count, np.uint64)
        conn_of = np.full(count, -1, np.int32)
        last_seq[serials], size_of[serials], conn_of[serials] = seqs, sizes, conns
        verify_map.save_part(self.target.verify_parts, self.index, last_seq.tobytes(), self.load.writes,
                             {"sizes": size_of, "threads": conn_of, "base": np.array(self.prefix)})

    def _verify_text(self, report: dict) -> str:
        """The worker's --verify result in a line, its failures named by key and byte: a stamp's
        offset is the object's serial << object_shift | the byte (_fast/payload.pxd)."""
        shift, digits = STAMP_LAYOUT["object_shift"], s3_loop().OBJECT_NAMING["serial_digits"]
        return verify_text_by_key(report, lambda offset: (f"{self.prefix}{offset >> shift:0{digits}d}",
                                                          offset & ((1 << shift) - 1)))

    def close(self) -> None:
        if self.target.cleanup and self.target.existing is None:
            self.load.cleanup()
        self.client.close()


def existing_keys(target: NativeS3Target) -> tuple[bytes, np.ndarray]:
    """Every key under target.existing, listed now, URI-encoded end to end in one bytes (plus 8
    bytes a key: where it ends), so that millions of keys cost little more than their names."""
    driver = NativeDriver(target.config.as_driver_dict())
    keys, ends = bytearray(), array("Q")
    try:
        for page in driver.key_pages(target.existing):
            for key in page:
                keys += quote(key, safe="/~").encode()
                ends.append(len(keys))
    finally:
        driver.close()
    where = f"under {target.existing!r} in bucket {target.config.bucket!r}"
    if driver.last_error is not None:
        raise ChopsticksError(f"cannot list the objects {where}: {driver.last_error.kind}: {driver.last_error.message}")
    if not ends:
        raise ChopsticksError(f"no object {where} (--existing)")
    return bytes(keys), np.frombuffer(ends, dtype=np.uint64)
