"""chopsticks.drivers.s3.registry: built-ins, entry points and module:Class drivers."""
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from chopsticks.config import S3Config
from chopsticks.drivers.s3 import registry
from chopsticks.drivers.s3.base import BaseS3Driver
from chopsticks.drivers.s3.boto3_driver import Boto3Driver
from chopsticks.drivers.s3.mock_driver import MockDriver
from chopsticks.drivers.s3.s5cmd_driver import S5cmdDriver
from chopsticks.errors import ChopsticksError

TESTS_DIR = Path(__file__).parents[1]
CUSTOM = "helpers.custom_driver:DictDriver"
CONFIG = {"endpoint": "http://127.0.0.1:7480", "access_key": "ak", "secret_key": "sk", "bucket": "b"}


@pytest.fixture(autouse=True)
def tests_on_path(monkeypatch):
    """Make tests/helpers importable as a third-party package would be."""
    monkeypatch.syspath_prepend(str(TESTS_DIR))


@pytest.fixture
def entry_point_driver(monkeypatch):
    """Pretend an installed package registers DictDriver as `dictdrv` (and tries to shadow `mock`)."""
    points = [EntryPoint("dictdrv", CUSTOM, registry.ENTRY_POINT_GROUP),
              EntryPoint("mock", CUSTOM, registry.ENTRY_POINT_GROUP)]

    def fake_entry_points(group, name=None):
        return [ep for ep in points if ep.group == group and name in (None, ep.name)]

    monkeypatch.setattr(registry, "entry_points", fake_entry_points)


def one_line_error(name: str) -> str:
    with pytest.raises(ChopsticksError) as info:
        registry.driver_class(name)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_builtins_are_known():
    assert {"s5cmd", "boto3", "mock"} <= set(registry.known_drivers())


@pytest.mark.parametrize("name, cls", [("s5cmd", S5cmdDriver), ("boto3", Boto3Driver), ("mock", MockDriver)])
def test_builtin_names_resolve(name, cls):
    assert registry.driver_class(name) is cls


def test_unknown_name_lists_known_drivers():
    message = one_line_error("s6cmd")
    assert message.startswith("unknown S3 driver 's6cmd'; known: boto3, mock, native, s5cmd")


def test_module_class_loads_a_custom_driver():
    from helpers.custom_driver import DictDriver

    assert registry.driver_class(CUSTOM) is DictDriver


def test_module_that_does_not_import_is_one_line():
    message = one_line_error("no_such_pkg.drivers:Fast")
    assert "cannot load S3 driver 'no_such_pkg.drivers:Fast'" in message
    assert "ModuleNotFoundError: No module named 'no_such_pkg'" in message


def test_missing_class_is_one_line():
    assert "AttributeError" in one_line_error("helpers.custom_driver:Missing")


def test_class_that_is_not_a_driver_is_rejected():
    message = one_line_error("helpers.custom_driver:NotADriver")
    assert "is not a subclass of chopsticks.drivers.s3.base.BaseS3Driver" in message


def test_entry_point_registers_by_name(entry_point_driver):
    from helpers.custom_driver import DictDriver

    assert "dictdrv" in registry.known_drivers()
    assert registry.driver_class("dictdrv") is DictDriver


def test_builtin_wins_over_entry_point_of_same_name(entry_point_driver):
    assert registry.driver_class("mock") is MockDriver


def test_create_driver_from_plain_dict_passes_config_through():
    driver = registry.create_driver({**CONFIG, "driver": CUSTOM, "driver_config": {"label": "x"}})
    assert isinstance(driver, BaseS3Driver)
    assert (driver.endpoint, driver.bucket, driver.label) == ("http://127.0.0.1:7480", "b", "x")


def test_create_driver_from_s3config_works_end_to_end():
    config = S3Config(**CONFIG, driver=CUSTOM, driver_config={"label": "y"})
    driver = registry.create_driver(config)
    assert driver.upload("k", b"data") and driver.download("k") == b"data"
    assert driver.label == "y" and driver.secret_key == "sk"


def test_create_driver_defaults_to_s5cmd_for_0x_dicts():
    assert isinstance(registry.create_driver(dict(CONFIG)), S5cmdDriver)


def test_create_driver_names_the_config_file(tmp_path):
    config = S3Config(**CONFIG, driver="nope", path=tmp_path / "s3.yaml")
    with pytest.raises(ChopsticksError, match=rf"^{tmp_path}/s3.yaml: unknown S3 driver 'nope'"):
        registry.create_driver(config)
