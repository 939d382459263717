"""Where bench s3 puts its objects: two runs that start in the same second on one bucket (two
shells, two hosts of a cluster run) must never write, read or clean up each other's keys."""
import time

from chopsticks.backends.s3 import key_base


def test_runs_starting_in_the_same_second_name_their_objects_apart(monkeypatch):
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.25)
    first, second = key_base("chopsticks-bench", 0), key_base("chopsticks-bench", 0)
    assert first != second
    assert first.startswith("chopsticks-bench/1800000000-") and first.endswith("-w0")
    assert key_base("p", 3).endswith("-w3")
