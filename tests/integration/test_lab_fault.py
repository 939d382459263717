"""`chopsticks lab fault`: each fault does what it says to exactly the lab's daemon. Faults that
leave the session's lab as it was (pause/resume, refusals) run on it; restart and kill give daemons
new PIDs, which other tests read from the session's lab, so they run on a lab of their own."""
from pathlib import Path

import pytest

from chopsticks.ceph import import_ceph_module
from chopsticks.lab import down, find_running, up
from chopsticks.lab.state import LabInfo
from conftest import run_cli
from helpers.lab_health import wait_healthy

pytestmark = pytest.mark.ceph


def process_state(pid: int) -> str:
    """'T' stopped, 'S' sleeping, ... (from /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("State:"):
            return line.split()[1]
    raise AssertionError(f"no state for {pid}")


@pytest.fixture(scope="module")
def own_lab(lab, tmp_path_factory):
    """A lab for this module's restarts and kills (after the session's, so Ceph is there)."""
    lab_dir = tmp_path_factory.mktemp("fault-lab")
    info, _ = up(lab_dir, log=lambda message: None)
    try:
        yield info
    finally:
        down(lab_dir)


def fault(lab, *args, timeout=120):
    return run_cli("lab", "fault", *args, "--dir", lab.dir, timeout=timeout)


def test_pause_and_resume_stop_and_continue_exactly_that_daemon(lab):
    pid = LabInfo.load(lab.dir).pids["mgr.x"]
    try:
        r = fault(lab, "pause", "mgr.x")
        assert r.exit_code == 0 and f"paused mgr.x (pid {pid})" in r.stdout, r.stderr
        assert process_state(pid) == "T"
        assert process_state(LabInfo.load(lab.dir).pids["mon.a"]) != "T"
    finally:
        r = fault(lab, "resume", "mgr.x")
    assert r.exit_code == 0 and process_state(pid) != "T"


def test_restarting_the_memstore_osd_keeps_its_objects(own_lab):
    lab = own_lab
    rados = import_ceph_module("rados")
    old_pid = LabInfo.load(lab.dir).pids["osd.0"]
    with rados.Rados(conffile=str(lab.conf), conf={"keyring": str(lab.keyring)}) as cluster:
        with cluster.open_ioctx(lab.pool) as ioctx:
            ioctx.write_full("chopsticks-fault-probe", b"still here")
    try:
        r = fault(lab, "restart", "osd.0")
        assert r.exit_code == 0, r.stderr
    finally:
        wait_healthy(lab)
    new_pid = LabInfo.load(lab.dir).pids["osd.0"]
    assert new_pid != old_pid and f"restarted osd.0 (pid {new_pid})" in r.stdout
    assert find_running(lab.dir) is not None                     # lab.json follows the new PID
    with rados.Rados(conffile=str(lab.conf), conf={"keyring": str(lab.keyring)}) as cluster:
        with cluster.open_ioctx(lab.pool) as ioctx:
            assert ioctx.read("chopsticks-fault-probe") == b"still here"
            ioctx.remove_object("chopsticks-fault-probe")


def test_kill_for_a_while_then_restart_the_monitor(own_lab):
    lab = own_lab
    old_pid = LabInfo.load(lab.dir).pids["mon.a"]
    try:
        r = fault(lab, "kill", "mon.a", "--for", "1s")
    finally:
        if find_running(lab.dir) is None:
            fault(lab, "restart", "mon.a")
        wait_healthy(lab)
    assert r.exit_code == 0, r.stderr
    assert f"killed mon.a (pid {old_pid})" in r.stdout and "restarted mon.a" in r.stdout
    assert LabInfo.load(lab.dir).pids["mon.a"] != old_pid


def test_faults_that_cannot_be_done_say_why_in_one_line(lab):
    for args, needle in ((("kill", "osd.0"), "memstore"), (("pause", "osd.9"), "no daemon 'osd.9'"),
                         (("mark-down", "mon.a"), "takes an OSD")):
        r = fault(lab, *args)
        lines = r.stderr.strip().splitlines()
        assert r.exit_code == 1 and len(lines) == 1 and needle in lines[0], (args, r.stderr)
    assert find_running(lab.dir) is not None
    assert fault(lab, "pause", "mgr.x", "--for", "soon").exit_code == 2
