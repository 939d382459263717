"""`chopsticks lab` commands that need no Ceph: help, and `env` for a lab whose daemon is a stand-in."""
import shlex
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from chopsticks.cli import app
from chopsticks.errors import ChopsticksError
from chopsticks.lab import LabInfo

runner = CliRunner()


@pytest.mark.parametrize("command", ["up", "down", "status", "env"])
def test_every_command_has_help_with_a_dir_option(command):
    result = runner.invoke(app, ["lab", command, "--help"])
    assert result.exit_code == 0
    assert "--dir" in result.output


def test_env_prints_shell_exports_for_the_running_lab(tmp_path):
    lab_dir = tmp_path / "a lab"
    lab_dir.mkdir()
    code = "import time; print('ready', flush=True); time.sleep(60)"
    daemon = subprocess.Popen([sys.executable, "-c", code, "-c", str(lab_dir / "ceph.conf")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert daemon.stdout.readline() == "ready\n"
        LabInfo(dir=lab_dir, conf=lab_dir / "ceph.conf", keyring=lab_dir / "client.admin.keyring",
                client_id="admin", fsid="fsid-1", mon_addr="[v2:127.0.0.1:1,v1:127.0.0.1:2]", pool="rbd",
                image="test", image_size=1 << 30, s3_endpoint="http://127.0.0.1:3", access_key="AK",
                secret_key="SK", bucket="chopsticks", s3_config=lab_dir / "s3_config.yaml",
                pids={"mon.a": daemon.pid}).save()
        result = runner.invoke(app, ["lab", "env", "--dir", str(lab_dir)])
    finally:
        daemon.kill()
        daemon.wait()
    assert result.exit_code == 0
    exports = dict(shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in result.output.splitlines())
    assert exports == {
        "CHOPSTICKS_LAB_DIR": str(lab_dir), "CEPH_CONF": str(lab_dir / "ceph.conf"),
        "CEPH_KEYRING": str(lab_dir / "client.admin.keyring"), "S3_CONFIG_PATH": str(lab_dir / "s3_config.yaml"),
        "AWS_ENDPOINT_URL": "http://127.0.0.1:3", "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK",
    }


def test_env_without_a_running_lab_is_an_error(tmp_path):
    result = runner.invoke(app, ["lab", "env", "--dir", str(tmp_path)])
    assert isinstance(result.exception, ChopsticksError)
    assert "no lab running in" in str(result.exception)
