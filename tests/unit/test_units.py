import pytest

from chopsticks.errors import ChopsticksError
from chopsticks.units import format_size, parse_duration, parse_size


@pytest.mark.parametrize("text, expected", [("4096", 4096), ("4k", 4096), ("4KiB", 4096), ("64K", 65536),
                                            ("1M", 1 << 20), ("2g", 2 << 30), ("1.5k", 1536), ("1MB", 1 << 20)])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "k", "4x", "-4k", "0", "four"])
def test_parse_size_rejects(text):
    with pytest.raises(ChopsticksError):
        parse_size(text)


@pytest.mark.parametrize("text, expected", [("30", 30), ("30s", 30), ("5m", 300), ("1h30m", 5400),
                                            ("500ms", 0.5), ("2m10s", 130)])
def test_parse_duration(text, expected):
    assert parse_duration(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "5x", "m5", "1h 30m", "0s", "abc"])
def test_parse_duration_rejects(text):
    with pytest.raises(ChopsticksError):
        parse_duration(text)


def test_format_size():
    assert [format_size(n) for n in (4096, 1 << 20, 3 << 30, 1000)] == ["4KiB", "1MiB", "3GiB", "1000B"]
