"""Block-device style I/O shared by the rbd and null backends: block size, read/write mix,
payload pattern and which byte range each worker covers."""
from __future__ import annotations

import errno
from typing import ClassVar
from dataclasses import dataclass

from chopsticks._fast.iogen import OP_NAMES, RW_MODES
from chopsticks._fast.payload import PATTERNS, STAMP_LAYOUT

VERIFY_MAP_BYTES = 256 << 20        # --verify remembers each block's last write: at most this per worker
from chopsticks.errors import ChopsticksError
from chopsticks.memory import check_buffers


@dataclass(frozen=True)
class BlockIo:
    bs: int = 4096
    rw: str = "randwrite"           # read | write | randread | randwrite | randrw | rw
    rwmixread: int = 50             # % reads for randrw/rw
    pattern: str = "random"         # random | zero | compressible
    compressible_pct: int = 50      # % of each 4 KiB block that is zero, for compressible
    offset: int = 0                 # first byte of the range to cover
    span: int | None = None         # bytes of the range; None = to the end of the device
    verify: bool = False            # check every block read against its stamp and this run's writes
    verify_against: str | None = None   # an earlier run's JSON result: go on from its verify map (implies verify)

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
        if self.verify and span // self.bs * 8 > VERIFY_MAP_BYTES:
            raise ChopsticksError(f"--verify keeps 8 bytes per block of the range: {span // self.bs:,} blocks of "
                                  f"{what} are too many; verify a smaller --span or use a larger --bs")

    def check_buffers(self, workers: int, inflight: int) -> None:
        check_buffers(self.bs * inflight, workers, "--iodepth × --bs")

    def span_bytes(self, device_bytes: int) -> int:
        return self.span if self.span is not None else device_bytes - self.offset

    def spec(self, device_bytes: int, index: int, procs: int, shared_device: bool) -> dict:
        """The loop's I/O fields for worker `index`. Sequential workers sharing one device each
        take their own slice of the range, so they do not rewrite each other's blocks."""
        start, span = self.offset, self.span_bytes(device_bytes)
        if shared_device and self.rw in ("read", "write", "rw", "verify") and procs > 1:
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
            "verify": self.verify,
        }


def errno_name(code: int) -> str:
    """'EIO' for 5."""
    return errno.errorcode.get(code, f"errno{code}")


def verify_text(report: dict) -> str:
    """One worker's --verify result in a line: blocks checked, never written, failed, the first
    failures (offset, kind, expected and found write seq)."""
    text = (f"verify: {report['checked_blocks']:,} blocks checked, {report['unwritten_blocks']:,} never "
            f"written by chopsticks (not checked), {report['failed_blocks']:,} failed")
    for f in report["first_failures"]:
        text += (f"; {f['kind']} at offset {f['offset']} (expected write {seq_text(f['expected_seq'])}, "
                 f"found {seq_text(f['found_seq'])})")
    return text


def seq_text(seq: int) -> str:
    """A stamp's seq as 'worker W #N' (payload.pxd: worker << 44 | write number); '-' for none."""
    shift = STAMP_LAYOUT["seq_worker_shift"]
    return f"w{seq >> shift}#{seq & ((1 << shift) - 1)}" if seq else "-"


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
