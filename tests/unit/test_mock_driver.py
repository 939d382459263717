"""The mock S3 driver, and through it the behaviour every driver inherits from BaseS3Driver
(error kinds, last_error, log once per kind, driver_config checks)."""
import logging
import threading
import time
import uuid

import pytest

from chopsticks.drivers.s3 import base
from chopsticks.drivers.s3.base import ERROR_KINDS, BaseS3Driver, DriverError, error_kind
from chopsticks.drivers.s3.mock_driver import MockDriver
from chopsticks.errors import ChopsticksError

SECRET = "s3cr3t-value"


def mock(bucket: str | None = None, create: bool = True, **driver_config) -> MockDriver:
    driver = MockDriver({"endpoint": "http://mock", "access_key": "ak", "secret_key": SECRET,
                         "bucket": bucket or f"b-{uuid.uuid4().hex[:8]}", "driver_config": driver_config})
    if create:
        driver.ensure_bucket()
    return driver


def test_error_kinds_are_stable():
    # The engine stores kinds by index: this order is a file format.
    assert ERROR_KINDS[:9] == ("auth", "no_such_bucket", "not_found", "timeout", "connection",
                               "http_4xx", "http_5xx", "throttled", "other")


@pytest.mark.parametrize("code, status, kind", [
    ("SignatureDoesNotMatch", 403, "auth"), ("InvalidAccessKeyId", 403, "auth"), ("AccessDenied", None, "auth"),
    ("403", 403, "auth"), ("NoSuchBucket", 404, "no_such_bucket"), ("NoSuchKey", 404, "not_found"),
    ("404", 404, "not_found"), ("SlowDown", 503, "throttled"), ("", 429, "throttled"),
    ("InvalidRange", 416, "http_4xx"), ("InternalError", 500, "http_5xx"), ("ServiceUnavailable", 503, "http_5xx"),
    ("Weird", None, "other"), ("", 302, "other"),
])
def test_error_kind_mapping(code, status, kind):
    assert error_kind(code, status) == kind


def test_driver_error_rejects_unknown_kind():
    with pytest.raises(ValueError, match="unknown error kind 'oops'"):
        DriverError("oops", "x", "y")


def test_round_trip_and_metadata():
    driver = mock()
    assert driver.upload("dir/a", b"hello", {"owner": "me"})
    head = driver.head_object("dir/a")
    assert head["size"] == 5 and head["etag"] == "5d41402abc4b2a76b9719d911017c592"  # md5("hello")
    assert head["metadata"] == {"owner": "me"} and head["last_modified"].tzinfo is not None
    assert driver.download("dir/a") == b"hello"
    assert driver.last_error is None


def test_list_is_sorted_filtered_and_limited():
    driver = mock()
    for key in ("b/2", "a/1", "b/1", "b/3"):
        driver.upload(key, b"x")
    assert driver.list_objects("b/") == ["b/1", "b/2", "b/3"]
    assert driver.list_objects("b/", max_keys=2) == ["b/1", "b/2"]
    assert driver.list_objects() == ["a/1", "b/1", "b/2", "b/3"]


def test_drivers_of_one_bucket_share_objects_and_other_buckets_do_not():
    writer = mock("shared-" + uuid.uuid4().hex[:8])
    reader = mock(writer.bucket, create=False)
    writer.upload("k", b"v")
    assert reader.download("k") == b"v"
    assert mock().download("k") is None


def test_missing_key_is_not_found_and_success_clears_it():
    driver = mock()
    assert driver.download("nope") is None
    assert driver.last_error.kind == "not_found" and driver.last_error.code == "NoSuchKey"
    assert driver.head_object("nope") is None and driver.last_error.kind == "not_found"
    assert driver.upload("k", b"v") and driver.last_error is None


def test_missing_bucket_is_no_such_bucket():
    driver = mock(create=False)
    assert driver.upload("k", b"v") is False
    assert driver.last_error.kind == "no_such_bucket"
    assert driver.list_objects() == [] and driver.last_error.kind == "no_such_bucket"
    driver.ensure_bucket()
    assert driver.upload("k", b"v") and driver.last_error is None


def test_delete_of_missing_key_succeeds_like_s3():
    driver = mock()
    assert driver.delete("never-written") is True


def test_latency_is_added_to_each_operation():
    driver = mock(latency_ms=20)
    start = time.perf_counter()
    for _ in range(3):
        driver.upload("k", b"v")
    assert time.perf_counter() - start >= 0.06


def test_failure_rate_is_seeded_and_reproducible():
    def outcomes(seed):
        driver = mock(failure_rate=0.3, seed=seed)
        return [driver.upload(f"k{i}", b"v") for i in range(200)]

    first, again, other = outcomes(7), outcomes(7), outcomes(8)
    assert first == again and first != other
    assert 30 <= first.count(False) <= 90  # ~60 expected


def test_injected_failure_is_http_5xx():
    driver = mock(failure_rate=1)
    assert driver.upload("k", b"v") is False
    assert driver.last_error == DriverError("http_5xx", "InternalError", "injected by driver_config.failure_rate")


def test_concurrent_writers_and_listers_lose_nothing():
    driver = mock()

    def write(worker):
        for i in range(500):
            assert driver.upload(f"w{worker}/{i}", b"x")
            driver.list_objects(f"w{worker}/", max_keys=5)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(driver.list_objects(max_keys=10_000)) == 8 * 500


def test_each_error_kind_is_logged_once_per_process(caplog, monkeypatch):
    monkeypatch.setattr(base, "_logged_errors", set())
    users = [mock(create=False), mock(create=False)]
    with caplog.at_level(logging.WARNING, logger="chopsticks.drivers.s3"):
        for driver in users * 3:
            driver.upload("k", b"v")
        for driver in users:
            driver.ensure_bucket()
            driver.download("missing")
            driver.download("missing")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "MockDriver upload failed: no_such_bucket" in messages[0]
    assert "MockDriver download failed: not_found" in messages[1]
    assert SECRET not in caplog.text


def test_default_ensure_bucket_raises_one_line_when_listing_fails():
    class NoBucketCreation(MockDriver):
        ensure_bucket = BaseS3Driver.ensure_bucket

    driver = NoBucketCreation({"endpoint": "http://mock", "access_key": "ak", "secret_key": SECRET, "bucket": "absent"})
    with pytest.raises(ChopsticksError) as info:
        driver.ensure_bucket()
    assert str(info.value) == ("S3 bucket 'absent' at http://mock is not usable: no_such_bucket: NoSuchBucket: "
                               "no bucket 'absent' (call ensure_bucket first)")


@pytest.mark.parametrize("option, value, message", [
    ("latency_ms", -1, "driver_config.latency_ms must be a number >= 0, got -1"),
    ("latency_ms", "5", "driver_config.latency_ms must be a number >= 0, got '5'"),
    ("failure_rate", 1.5, "driver_config.failure_rate must be between 0 and 1, got 1.5"),
    ("failure_rate", True, "driver_config.failure_rate must be a number >= 0, got True"),
    ("seed", "abc", "driver_config.seed must be an integer, got 'abc'"),
])
def test_bad_driver_config_is_one_line_error(option, value, message):
    with pytest.raises(ChopsticksError) as info:
        mock(**{option: value})
    assert str(info.value) == message


def test_missing_connection_key_is_an_error():
    with pytest.raises(ChopsticksError, match="S3 driver config lacks bucket"):
        MockDriver({"endpoint": "http://mock", "access_key": "ak", "secret_key": "sk"})


def test_repr_shows_no_keys():
    text = repr(mock(bucket="visible"))
    assert text == "MockDriver(endpoint='http://mock', bucket='visible')"
