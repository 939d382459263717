"""The null backend: no I/O, every operation completes at once. Measures the engine's own
ceiling (timing, recording, offset generation) per core."""
from __future__ import annotations

from dataclasses import dataclass, field

from chopsticks._fast import null_loop
from chopsticks.backends.block import BlockIo, BlockTarget

NULL_DEVICE_BYTES = 1 << 40


@dataclass(frozen=True)
class NullTarget(BlockTarget):
    io: BlockIo = field(default_factory=BlockIo)
    name = "null"

    def prepare(self, plan) -> dict:
        self.io.check(NULL_DEVICE_BYTES, "the null device")
        return {}

    def open_worker(self, plan, index: int) -> NullSession:
        return NullSession(self.io.spec(NULL_DEVICE_BYTES, index, plan.workers_total, shared_device=True))

    def settings(self) -> dict:
        return {"backend": self.name, **self.io.__dict__}


class NullSession:
    def __init__(self, io_spec: dict):
        self.io_spec = io_spec

    def run(self, hist, ts, errors, stop, spec: dict) -> dict:
        return null_loop.run(hist, ts, errors, stop, {**spec, **self.io_spec})

    def close(self) -> None:
        pass
