"""Block-device style I/O shared by the rbd and null backends: block size, read/write mix,
payload pattern and which byte range each worker covers."""
from __future__ import annotations

import errno
from typing import ClassVar
from dataclasses import dataclass

from chopsticks._fast.iogen import OP_NAMES, RW_MODES
from chopsticks._fast.payload import PATTERNS
from chopsticks.engine.contract import ERR_OTHER, ERR_STALLED
from chopsticks.errors import ChopsticksError


@dataclass(frozen=True)
class BlockIo:
    bs: int = 4096
    rw: str = "randwrite"           # read | write | randread | randwrite | randrw | rw
    rwmixread: int = 50             # % reads for randrw/rw
    pattern: str = "random"         # random | zero | compressible
    compressible_pct: int = 50      # % of each 4 KiB block that is zero, for compressible
    offset: int = 0                 # first byte of the range to cover
    span: int | None = None         # bytes of the range; None = to the end of the device

    op_names = OP_NAMES

    def check(self, device_bytes: int, what: str) -> None:
        """One-line error if this I/O does not fit a device of device_bytes."""
        span = self.span_bytes(device_bytes)
        if self.offset >= device_bytes:
            raise ChopsticksError(f"--offset {self.offset} is past the end of {what} ({device_bytes} bytes)")
        if self.bs > span:
            raise ChopsticksError(f"--bs {self.bs} is larger than the range to cover in {what} ({span} bytes)")
        if self.offset + span > device_bytes:
            raise ChopsticksError(f"--offset + --span ({self.offset + span}) is past the end of {what} ({device_bytes} bytes)")

    def span_bytes(self, device_bytes: int) -> int:
        return self.span if self.span is not None else device_bytes - self.offset

    def spec(self, device_bytes: int, index: int, procs: int, shared_device: bool) -> dict:
        """The loop's I/O fields for worker `index`. Sequential workers sharing one device each
        take their own slice of the range, so they do not rewrite each other's blocks."""
        start, span = self.offset, self.span_bytes(device_bytes)
        if shared_device and self.rw in ("read", "write", "rw") and procs > 1:
            blocks = span // self.bs
            per = max(1, blocks // procs)
            start += (index % max(1, min(procs, blocks))) * per * self.bs
            span = per * self.bs
        return {
            "bs": self.bs,
            "rw": RW_MODES[self.rw],
            "read_pct": self.rwmixread,
            "pattern": self.pattern,
            "pattern_code": PATTERNS[self.pattern],
            "compressible_pct": self.compressible_pct,
            "span_start": start,
            "span_bytes": span,
        }


def errno_name(code: int) -> str:
    """'EIO' for 5, 'stalled' for an op past --op-timeout."""
    if code == ERR_STALLED:
        return "stalled"
    if code == ERR_OTHER:
        return "other"
    return errno.errorcode.get(code, f"errno{code}")


class BlockTarget:
    """What every block-style target derives from its `io: BlockIo` field."""

    io: BlockIo
    derived_ops: ClassVar[tuple[str, ...]] = ()
    supports_rate: ClassVar[bool] = True    # the loop follows _fast/engine.pxd's schedule

    @property
    def op_names(self) -> tuple[str, ...]:
        return self.io.op_names

    @property
    def bytes_per_op(self) -> int:
        return self.io.bs

    def error_name(self, code: int) -> str:
        return errno_name(code)
