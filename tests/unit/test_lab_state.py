"""Finding a lab again (lab.json, liveness, run directory) and refusing what must not happen, without Ceph."""
import subprocess
import sys
from pathlib import Path

import pytest

from chopsticks.errors import ChopsticksError
from chopsticks.lab import LabInfo, cluster, default_dir, down, find_running, status, up

NO_SUCH_PID = 2**22 + 1  # above Linux's limit for pid_max


def lab_info(lab_dir: Path, pids: dict[str, int]) -> LabInfo:
    return LabInfo(
        dir=lab_dir, conf=lab_dir / "ceph.conf", keyring=lab_dir / "client.admin.keyring", client_id="admin",
        fsid="f5d6c9a0-0000-4000-8000-000000000000", mon_addr="[v2:127.0.0.1:1,v1:127.0.0.1:2]", pool="rbd",
        image="test", image_size=1 << 30, s3_endpoint="http://127.0.0.1:3", access_key="AK", secret_key="SK",
        bucket="chopsticks", s3_config=lab_dir / "s3_config.yaml", pids=pids,
    )


@pytest.fixture
def stand_in(tmp_path):
    """A live process that looks like a daemon of a lab in tmp_path (its argv names the lab's conf)."""
    code = "import time; print('ready', flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code, "-c", str(tmp_path / "ceph.conf")], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline() == "ready\n"
    yield proc
    proc.kill()
    proc.wait()


def test_lab_info_survives_a_save_and_load(tmp_path):
    info = lab_info(tmp_path, {"mon.a": 11, "osd.0": 12})
    info.save()
    assert LabInfo.load(tmp_path) == info
    assert isinstance(LabInfo.load(tmp_path).conf, Path)


def test_load_is_none_without_a_readable_lab_json(tmp_path):
    assert LabInfo.load(tmp_path) is None
    (tmp_path / "lab.json").write_text("{not json")
    assert LabInfo.load(tmp_path) is None


def test_find_running_needs_every_recorded_daemon_alive(tmp_path, stand_in):
    lab_info(tmp_path, {"mon.a": stand_in.pid}).save()
    assert find_running(tmp_path) == LabInfo.load(tmp_path)
    lab_info(tmp_path, {"mon.a": stand_in.pid, "osd.0": NO_SUCH_PID}).save()
    assert find_running(tmp_path) is None


def test_status_reports_dead_daemons_without_asking_ceph(tmp_path):
    lab_info(tmp_path, {"mon.a": NO_SUCH_PID}).save()
    report = status(tmp_path)
    assert report["running"] is False
    assert report["daemons"] == {"mon.a": {"pid": NO_SUCH_PID, "alive": False}}
    assert report["health"].startswith("unreachable")


def test_status_without_a_lab_is_an_error(tmp_path):
    with pytest.raises(ChopsticksError, match="no lab in"):
        status(tmp_path)


def test_default_dir_follows_xdg_state_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_dir() == tmp_path / "chopsticks" / "lab"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_dir() == Path.home() / ".local" / "state" / "chopsticks" / "lab"


def test_explicit_dir_beats_env_which_beats_default(monkeypatch, tmp_path):
    monkeypatch.setenv("CHOPSTICKS_LAB_DIR", str(tmp_path / "from-env"))
    assert cluster.resolve_dir(None) == tmp_path / "from-env"
    assert cluster.resolve_dir(tmp_path / "given") == tmp_path / "given"


def test_down_leaves_a_directory_that_is_not_a_lab_untouched(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    assert down(tmp_path) is False
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_up_refuses_a_non_empty_directory_that_is_not_a_lab(tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "_ensure_ceph_installed", lambda install, log: None)
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(ChopsticksError, match="holds no chopsticks lab"):
        up(tmp_path, log=lambda message: None)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_missing_ceph_is_a_one_line_error_naming_the_apt_command(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ChopsticksError) as error:
        up(tmp_path / "lab", log=lambda message: None)
    assert "apt-get install -y ceph-mon ceph-mgr ceph-osd radosgw ceph-common" in str(error.value)
    assert "\n" not in str(error.value)
    assert not (tmp_path / "lab").exists()


def test_install_needs_root(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(cluster.os, "geteuid", lambda: 1000)
    with pytest.raises(ChopsticksError, match="--install needs root"):
        up(tmp_path / "lab", install=True, log=lambda message: None)


def cluster_status(health="HEALTH_OK", mgr_available=True, pgs_by_state=(("active+clean", 49),)) -> dict:
    """The parts of `ceph status --format json` that readiness looks at."""
    by_state = [{"state_name": state, "count": count} for state, count in pgs_by_state]
    return {
        "health": {"status": health, "checks": {"PG_AVAILABILITY": {}} if health != "HEALTH_OK" else {}},
        "mgrmap": {"available": mgr_available},
        "pgmap": {"pgs_by_state": by_state, "num_pgs": sum(count for _, count in pgs_by_state)},
    }


def test_ready_means_health_ok_an_active_mgr_and_every_pg_clean():
    assert cluster.not_ready_reason(cluster_status()) is None
    assert cluster.not_ready_reason(cluster_status(health="HEALTH_WARN")) == "HEALTH_WARN: PG_AVAILABILITY"
    assert cluster.not_ready_reason(cluster_status(mgr_available=False)) == "no active mgr"
    some_unknown = cluster_status(pgs_by_state=(("active+clean", 48), ("unknown", 1)))
    assert cluster.not_ready_reason(some_unknown) == "48 of 49 PGs active+clean"
    assert cluster.not_ready_reason(cluster_status(pgs_by_state=())) == "0 of 0 PGs active+clean"
