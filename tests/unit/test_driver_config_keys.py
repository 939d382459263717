"""Item 16 of issue #10: a driver_config key no driver reads gets one warning naming it and the
chosen driver's options; drivers declare theirs in `CONFIG_KEYS`. Set-up code can turn a
driver's error logging off (`log_errors`), so a failure is said once, by the caller."""
import logging
from pathlib import Path

import pytest

from chopsticks.config import S3Config
from chopsticks.drivers.s3.base import DriverError
from chopsticks.drivers.s3.mock_driver import MockDriver
from chopsticks.drivers.s3.registry import unknown_driver_config

TESTS_DIR = Path(__file__).parents[1]


def config(driver="boto3", **driver_config) -> S3Config:
    return S3Config(endpoint="http://127.0.0.1:1", access_key="a", secret_key="s", bucket="b", driver=driver,
                    driver_config=driver_config, path=Path("s3.yaml"))


def test_a_typo_is_named_with_the_drivers_options():
    assert unknown_driver_config(config(timeoutt=5, retries=1)) == (
        "s3.yaml: driver_config key 'timeoutt' ignored: not an option of the 'boto3' driver "
        "(its options: timeout, retries, ca_bundle, verify)")
    assert unknown_driver_config(config("mock", latency=1, seed=2, failure=0.1)) == (
        "s3.yaml: driver_config keys 'latency', 'failure' ignored: not an option of the 'mock' driver "
        "(its options: latency_ms, failure_rate, seed)")


@pytest.mark.parametrize("driver, keys", [
    ("s5cmd", {"s5cmd_path": "s5cmd", "timeout": 30, "retries": 0, "ca_bundle": "ca.pem", "verify": False}),
    ("boto3", {"timeout": 30, "retries": 0, "ca_bundle": "ca.pem", "verify": True}),
    ("native", {"timeout": 30, "multipart_part_size": 5 << 20, "tcp_quickack": True, "verify": True}),
    ("mock", {"latency_ms": 1, "failure_rate": 0, "seed": 1}),
    ("boto3", {"s5cmd_path": "s5cmd", "timeout": 30}),     # a config for s5cmd, run with --driver boto3
])
def test_keys_a_driver_reads_pass(driver, keys):
    assert unknown_driver_config(config(driver, **keys)) is None


def test_a_driver_that_declares_nothing_is_not_checked(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS_DIR))
    assert unknown_driver_config(config("helpers.custom_driver:DictDriver", anything=1)) is None


def test_set_up_can_silence_a_drivers_error_log(caplog):
    driver = MockDriver(config("mock").as_driver_dict())
    driver.log_errors = False
    with caplog.at_level(logging.WARNING):
        driver.record_error("upload", DriverError("http_4xx", "Nope", "quiet please"))
    assert driver.last_error.code == "Nope" and caplog.records == []
