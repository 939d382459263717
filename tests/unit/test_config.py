"""chopsticks.config: loading and validating the S3 workload YAML."""
import dataclasses
import logging
from pathlib import Path

import pytest
import yaml

from chopsticks.config import S3Config, load_s3_config
from chopsticks.errors import ChopsticksError

EXAMPLE = Path(__file__).parents[2] / "config" / "s3_config.yaml.example"

MINIMAL = {
    "endpoint": "http://127.0.0.1:7480",
    "access_key": "AKEXAMPLE",
    "secret_key": "very-secret-value",
    "bucket": "bench",
}


def write_config(tmp_path: Path, document) -> Path:
    path = tmp_path / "s3.yaml"
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
    return path


def load_error(tmp_path: Path, document) -> str:
    with pytest.raises(ChopsticksError) as info:
        load_s3_config(write_config(tmp_path, document))
    message = str(info.value)
    assert "\n" not in message
    return message


def test_minimal_config_gets_documented_defaults(tmp_path):
    path = write_config(tmp_path, MINIMAL)
    config = load_s3_config(path)
    assert config == S3Config(endpoint="http://127.0.0.1:7480", access_key="AKEXAMPLE",
                              secret_key="very-secret-value", bucket="bench", region="us-east-1",
                              driver="s5cmd", driver_config={}, path=path)


def test_all_keys_are_read(tmp_path):
    document = {**MINIMAL, "endpoint": "https://rgw.example:443/", "region": "eu-1", "driver": "boto3",
                "driver_config": {"timeout": 5, "retries": 2}}
    config = load_s3_config(write_config(tmp_path, document))
    assert config.endpoint == "https://rgw.example:443"  # trailing slash dropped
    assert (config.region, config.driver, config.driver_config) == ("eu-1", "boto3", {"timeout": 5, "retries": 2})


def test_empty_driver_config_means_no_options(tmp_path):
    config = load_s3_config(write_config(tmp_path, "\n".join(f"{k}: {v}" for k, v in MINIMAL.items()) + "\ndriver_config:\n"))
    assert config.driver_config == {}


def test_env_names_the_file_when_no_path_is_given(tmp_path, monkeypatch):
    path = write_config(tmp_path, {**MINIMAL, "bucket": "from-env"})
    monkeypatch.setenv("S3_CONFIG_PATH", str(path))
    assert load_s3_config(None).bucket == "from-env"


def test_no_path_and_no_env_is_an_error(monkeypatch):
    monkeypatch.delenv("S3_CONFIG_PATH", raising=False)
    with pytest.raises(ChopsticksError, match="S3_CONFIG_PATH"):
        load_s3_config(None)


def test_missing_file_names_the_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ChopsticksError, match=f"cannot read config file {missing}: No such file"):
        load_s3_config(missing)


def test_directory_is_unreadable(tmp_path):
    with pytest.raises(ChopsticksError, match="cannot read config file"):
        load_s3_config(tmp_path)


def test_invalid_yaml_names_the_line(tmp_path):
    message = load_error(tmp_path, "endpoint: http://x\nbucket: [unclosed\n")
    assert "s3.yaml: invalid YAML at line" in message


@pytest.mark.parametrize("document, kind", [("- a\n- b\n", "list"), ("just text\n", "str"), ("", "NoneType")])
def test_top_level_must_be_a_mapping(tmp_path, document, kind):
    assert load_error(tmp_path, document).endswith(f"expected a mapping of keys at the top level, got {kind}")


@pytest.mark.parametrize("key", ["endpoint", "access_key", "secret_key", "bucket"])
def test_missing_required_key_is_named(tmp_path, key):
    document = {k: v for k, v in MINIMAL.items() if k != key}
    message = load_error(tmp_path, document)
    assert str(tmp_path / "s3.yaml") in message and f"missing key {key!r}" in message


@pytest.mark.parametrize("key, value", [("access_key", 12345), ("bucket", ""), ("region", ["a"]),
                                        ("driver", None), ("secret_key", True)])
def test_ill_typed_key_is_named(tmp_path, key, value):
    message = load_error(tmp_path, {**MINIMAL, key: value})
    assert f"{key!r} must be a non-empty string" in message


def test_numeric_key_hints_at_quoting_without_echoing_it(tmp_path):
    message = load_error(tmp_path, {**MINIMAL, "secret_key": 987654321})
    assert message.endswith("'secret_key' must be a non-empty string, got int (quote it in YAML)")
    assert "987654321" not in message


@pytest.mark.parametrize("key", ["driver_config", "metrics"])
def test_sections_must_be_mappings(tmp_path, key):
    assert f"{key!r} must be a mapping, got list" in load_error(tmp_path, {**MINIMAL, key: [1, 2]})


@pytest.mark.parametrize("url", ["127.0.0.1:7480", "ftp://host", "http://", "http://host:99999",
                                 "http://host:port", "http://host/bucket", "http://host?x=1",
                                 "http://user@host"])
def test_bad_endpoint_is_rejected(tmp_path, url):
    message = load_error(tmp_path, {**MINIMAL, "endpoint": url})
    assert f"'endpoint' must look like http(s)://host[:port], got {url!r}" in message


@pytest.mark.parametrize("url", ["http://localhost", "https://10.0.0.1:8443", "http://[::1]:7480"])
def test_good_endpoints_are_kept(tmp_path, url):
    assert load_s3_config(write_config(tmp_path, {**MINIMAL, "endpoint": url})).endpoint == url


def test_unknown_key_is_named_with_allowed_keys(tmp_path):
    message = load_error(tmp_path, {**MINIMAL, "endpiont": "x"})
    assert "unknown key 'endpiont'" in message and "allowed keys: endpoint," in message


def test_metrics_section_of_0x_enables_the_prometheus_endpoint(tmp_path, caplog):
    path = write_config(tmp_path, {**MINIMAL, "metrics": {"enabled": True, "http_host": "127.0.0.1", "http_port": 9100,
                                                         "aggregation_window_seconds": 10}})
    with caplog.at_level(logging.WARNING, logger="chopsticks.config"):
        config = load_s3_config(path)
    assert config.metrics.address == "127.0.0.1:9100"
    assert "metrics.aggregation_window_seconds ignored" in caplog.text
    assert load_s3_config(write_config(tmp_path, MINIMAL)).metrics.address is None
    assert load_s3_config(write_config(tmp_path, {**MINIMAL, "metrics": {"enabled": True}})).metrics.address == "0.0.0.0:8090"


@pytest.mark.parametrize("section, message", [
    ({"enabled": "yes"}, "'metrics.enabled' must be true or false, got str"),
    ({"enabled": True, "http_port": 70000}, "'metrics.http_port' must be a port number from 1 to 65535, got 70000"),
    ({"enabled": True, "http_host": ""}, "'metrics.http_host' must be a non-empty string"),
    ({"enabeld": True}, "unknown key 'metrics.enabeld'; allowed keys: enabled, http_host, http_port"),
])
def test_bad_metrics_section_is_a_one_line_error(tmp_path, section, message):
    assert message in load_error(tmp_path, {**MINIMAL, "metrics": section})


def test_repr_and_redacted_hide_only_the_secret(tmp_path):
    config = load_s3_config(write_config(tmp_path, MINIMAL))
    assert "very-secret-value" not in repr(config)
    assert "AKEXAMPLE" in repr(config)
    redacted = config.redacted()
    assert redacted["secret_key"] == "***" and redacted["access_key"] == "AKEXAMPLE"
    assert redacted["path"] == str(tmp_path / "s3.yaml")
    assert "very-secret-value" not in str(redacted)


def test_driver_dict_is_the_0x_plain_dict_and_a_copy(tmp_path):
    config = load_s3_config(write_config(tmp_path, {**MINIMAL, "driver_config": {"timeout": 3}}))
    driver_dict = config.as_driver_dict()
    assert driver_dict == {**MINIMAL, "region": "us-east-1", "driver": "s5cmd", "driver_config": {"timeout": 3}}
    driver_dict["driver_config"]["timeout"] = 99
    assert config.driver_config == {"timeout": 3}


def test_config_is_frozen(tmp_path):
    config = load_s3_config(write_config(tmp_path, MINIMAL))
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.bucket = "other"


def test_example_file_loads_and_documents_every_key():
    config = load_s3_config(EXAMPLE)
    assert config.driver == "s5cmd" and config.driver_config == {"timeout": 30, "retries": 0, "s5cmd_path": "s5cmd"}
    text = EXAMPLE.read_text()
    for key in [f.name for f in dataclasses.fields(S3Config) if f.name != "path"] + ["metrics"]:
        assert f"\n{key}:" in text or f"\n# {key}:" in text, key
    for option in ("timeout", "retries", "s5cmd_path", "latency_ms", "failure_rate", "seed"):
        assert f"{option}:" in text, option
