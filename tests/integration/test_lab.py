"""`chopsticks lab` against real Ceph daemons: each test starts (and stops) its own lab in its own
directory, except the last, which checks the session's `lab` fixture."""
import json
import os
import shlex
import signal
import socket
import time
from pathlib import Path

import boto3
import pytest
import yaml

from chopsticks.ceph import import_ceph_module
from chopsticks.lab import LabInfo, cluster, down, find_running, status, up
from chopsticks.lab.processes import is_lab_process
from helpers.lab_health import ceph

pytestmark = pytest.mark.ceph


def processes_using(conf: Path) -> list[int]:
    """PIDs of every process on the machine whose argv names this ceph.conf."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if str(conf).encode() in argv:
                pids.append(int(proc.name))
    return pids


def rbd_roundtrip(lab: LabInfo, offset: int, data: bytes) -> bytes:
    """Write `data` to the lab's image with librbd, using only the conf and keyring paths; read it back."""
    rados, rbd = import_ceph_module("rados"), import_ceph_module("rbd")
    with rados.Rados(conffile=str(lab.conf), conf={"keyring": str(lab.keyring)}, rados_id=lab.client_id) as client:
        with client.open_ioctx(lab.pool) as ioctx, rbd.Image(ioctx, lab.image) as image:
            assert image.size() == lab.image_size
            image.write(data, offset)
            return image.read(offset, len(data))


def s3_client(lab: LabInfo):
    return boto3.client("s3", endpoint_url=lab.s3_endpoint, aws_access_key_id=lab.access_key,
                        aws_secret_access_key=lab.secret_key, region_name="us-east-1")


def parse_exports(text: str) -> dict[str, str]:
    exports = {}
    for line in text.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        exports[name] = shlex.split(value)[0]
    return exports


def test_life_cycle_through_the_cli(cli, tmp_path):
    lab_dir = tmp_path / "lab"
    started_at = time.monotonic()
    code, out, err = cli("lab", "up", "--dir", lab_dir)
    up_seconds = time.monotonic() - started_at
    assert code == 0, err
    lab = LabInfo.load(lab_dir)
    assert lab is not None and set(lab.pids) == {"mon.a", "mgr.x", "osd.0", "client.rgw.lab"}
    assert "lab up in" in out and lab.s3_endpoint in out and str(lab.conf) in out
    assert up_seconds < 60

    code, out, err = cli("lab", "status", "--dir", lab_dir)
    assert code == 0, err
    assert "HEALTH_OK" in out
    assert all(f"pid {pid} alive" in out for pid in lab.pids.values())

    data = os.urandom(4096)
    assert rbd_roundtrip(lab, 1 << 20, data) == data

    s3 = s3_client(lab)
    s3.put_object(Bucket=lab.bucket, Key="probe", Body=data)
    assert s3.get_object(Bucket=lab.bucket, Key="probe")["Body"].read() == data

    config = yaml.safe_load(lab.s3_config.read_text())
    assert (config["endpoint"], config["access_key"], config["secret_key"], config["bucket"]) == (
        lab.s3_endpoint, lab.access_key, lab.secret_key, lab.bucket)
    assert Path(config["driver_config"]["s5cmd_path"]).name == "s5cmd"

    code, out, _ = cli("lab", "env", "--dir", lab_dir)
    exports = parse_exports(out)
    assert code == 0
    assert exports["CEPH_CONF"] == str(lab.conf) and exports["CEPH_KEYRING"] == str(lab.keyring)
    assert exports["S3_CONFIG_PATH"] == str(lab.s3_config)
    assert (exports["AWS_ENDPOINT_URL"], exports["AWS_ACCESS_KEY_ID"], exports["AWS_SECRET_ACCESS_KEY"]) == (
        lab.s3_endpoint, lab.access_key, lab.secret_key)

    code, out, err = cli("lab", "up", "--dir", lab_dir)
    assert code == 0
    assert "already running" in err
    assert LabInfo.load(lab_dir).pids == lab.pids

    code, out, _ = cli("lab", "down", "--dir", lab_dir)
    assert code == 0 and "stopped" in out
    assert not lab_dir.exists()
    assert processes_using(lab.conf) == []

    code, out, _ = cli("lab", "down", "--dir", lab_dir)
    assert code == 0 and "no lab running" in out
    code, _, err = cli("lab", "status", "--dir", lab_dir)
    assert code == 1 and "no lab in" in err


def test_up_retries_when_its_ports_are_taken_meanwhile(tmp_path, monkeypatch):
    """The mon's and RGW's first picks are ports another process listens on; up moves on to others."""
    held = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]
    taken = [s.getsockname()[1] for s in held]
    real_free_ports = cluster.free_ports
    picks = []

    def free_ports_first_taken(count):
        ports = real_free_ports(count)
        picks.append(ports)
        if len(picks) == 1:  # the mon's first pick: [mon_v2, mon_v1, rgw]
            ports[0] = taken[0]
        if len(picks) == 3:  # RGW's first own pick
            ports[0] = taken[1]
        return ports

    monkeypatch.setattr(cluster, "free_ports", free_ports_first_taken)
    messages = []
    try:
        lab, started = up(tmp_path / "lab", log=messages.append)
        assert started
        assert [m for m in messages if "port was taken" in m] == [
            "mon.a: its port was taken meanwhile; retrying on another",
            "client.rgw.lab: its port was taken meanwhile; retrying on another",
        ]
        assert not any(f":{port}" in lab.mon_addr + lab.s3_endpoint for port in taken)
        assert status(lab.dir)["health"] == "HEALTH_OK"
        data = os.urandom(4096)
        s3_client(lab).put_object(Bucket=lab.bucket, Key="after-retry", Body=data)
        assert s3_client(lab).get_object(Bucket=lab.bucket, Key="after-retry")["Body"].read() == data
    finally:
        down(tmp_path / "lab")
        for s in held:
            s.close()


def test_up_replaces_a_stale_lab_whose_daemons_died(cli, tmp_path):
    lab_dir = tmp_path / "lab"
    old, _ = up(lab_dir, log=lambda message: None)
    try:
        for pid in old.pids.values():
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while any(is_lab_process(pid, old.conf) for pid in old.pids.values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert find_running(lab_dir) is None

        code, out, _ = cli("lab", "status", "--dir", lab_dir)
        assert code == 1 and "NOT running" in out and "dead" in out

        code, out, err = cli("lab", "up", "--dir", lab_dir)
        assert code == 0, err
        assert "replacing the stale lab" in err
        new = find_running(lab_dir)
        assert new is not None and new.fsid != old.fsid
        assert set(new.pids.values()).isdisjoint(old.pids.values())
        assert status(lab_dir)["health"] == "HEALTH_OK"
    finally:
        down(lab_dir)
    assert processes_using(old.conf) == []


def test_session_lab_fixture_is_running_and_healthy(lab):
    assert find_running(lab.dir) == lab
    report = status(lab.dir)
    assert report["running"] and report["health"] == "HEALTH_OK"
    assert report["s3_endpoint"] == lab.s3_endpoint


def test_rgw_frees_a_deleted_objects_data_within_a_minute(lab):
    """RGW's garbage collector runs every few seconds in the lab (Ceph waits 2 h by default), so a
    day of S3 runs does not fill the 4 GiB memstore OSD with deleted objects' data."""
    config = yaml.safe_load(Path(lab.s3_config).read_text())
    s3 = boto3.client("s3", endpoint_url=config["endpoint"], aws_access_key_id=config["access_key"],
                      aws_secret_access_key=config["secret_key"], region_name=config["region"])

    def stored() -> int:
        pools = json.loads(ceph(lab, "df", "--format", "json"))["pools"]
        return next(p["stats"]["stored"] for p in pools if p["name"] == "default.rgw.buckets.data")

    def wait_for(condition, timeout_s: float) -> float:
        start = time.monotonic()
        while not condition():
            assert time.monotonic() - start < timeout_s, f"not within {timeout_s} s: {stored():,} bytes stored"
            time.sleep(1)
        return time.monotonic() - start

    before = stored()
    s3.put_object(Bucket=config["bucket"], Key="test-lab-gc/32MiB", Body=os.urandom(32 << 20))
    wait_for(lambda: stored() >= before + (30 << 20), 30)      # the pool's figures follow within seconds
    s3.delete_object(Bucket=config["bucket"], Key="test-lab-gc/32MiB")
    wait_for(lambda: stored() <= before + (2 << 20), 90)       # its tail went to the collector, then away
