"""Parsing of sizes (4k, 1MiB, 2G) and durations (30s, 5m, 1h30m) given by users."""
import re

from chopsticks.errors import ChopsticksError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)\s*$", re.IGNORECASE)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|h|m|s)")


def parse_size(text: str, what: str = "size") -> int:
    """Bytes in '4096', '4k', '4KiB', '1M', '2g' (binary multiples, as fio and rbd bench use)."""
    m = _SIZE.match(str(text))
    if not m:
        raise ChopsticksError(f"{what}: cannot read '{text}' as a size (e.g. 4k, 64KiB, 1M, 2G)")
    number, unit = float(m.group(1)), m.group(2).lower()
    value = int(number * 1024 ** " kmgtp".index(unit or " "))
    if value <= 0:
        raise ChopsticksError(f"{what}: must be more than 0 bytes, got '{text}'")
    return value


def parse_duration(text: str, what: str = "duration") -> float:
    """Seconds in '30', '30s', '5m', '1h30m', '500ms', '250us'."""
    s = str(text).strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", s):
        seconds = float(s)
    else:
        parts = _DURATION.findall(s)
        if not parts or "".join(n + u for n, u in parts) != s:
            raise ChopsticksError(f"{what}: cannot read '{text}' as a duration (e.g. 30s, 5m, 1h30m)")
        scale = {"us": 1e-6, "µs": 1e-6, "ms": 0.001, "s": 1, "m": 60, "h": 3600}
        seconds = sum(float(n) * scale[u] for n, u in parts)
    if seconds <= 0:
        raise ChopsticksError(f"{what}: must be more than 0, got '{text}'")
    return seconds


def format_size(n: int) -> str:
    """4096 → '4KiB' (exact binary multiples only; otherwise bytes)."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale}{unit}"
    return f"{n}B"
