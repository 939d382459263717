"""Picking ports, and recognising and stopping exactly the lab's processes (stand-ins for Ceph daemons)."""
import socket
import subprocess
import sys
import time

import pytest

from chopsticks.lab import processes
from chopsticks.lab.ports import free_ports
from chopsticks.lab.processes import is_lab_process, read_pid_files, stop


@pytest.fixture
def conf(tmp_path):
    return tmp_path / "ceph.conf"


def start_stand_in(conf, ignore_sigterm=False) -> subprocess.Popen:
    """A process whose argv names `conf`, as a daemon started with `-c conf` does."""
    code = "import signal, time\n"
    if ignore_sigterm:
        code += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    code += "print('ready', flush=True)\ntime.sleep(60)\n"
    proc = subprocess.Popen([sys.executable, "-c", code, "-c", str(conf)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    return proc


def test_free_ports_are_distinct_and_bindable():
    ports = free_ports(3)
    assert len(set(ports)) == 3
    for port in ports:
        with socket.create_server(("127.0.0.1", port)):
            pass


def test_free_ports_never_returns_a_port_something_listens_on():
    with socket.create_server(("127.0.0.1", 0)) as held:
        assert held.getsockname()[1] not in free_ports(50)


def test_a_process_is_the_labs_only_while_it_runs_with_that_conf(conf, tmp_path):
    proc = start_stand_in(conf)
    assert is_lab_process(proc.pid, conf)
    assert not is_lab_process(proc.pid, tmp_path / "other" / "ceph.conf")
    proc.kill()
    time.sleep(0.1)  # not reaped yet: a zombie is not a running lab process
    assert not is_lab_process(proc.pid, conf)
    proc.wait()
    assert not is_lab_process(proc.pid, conf)


def test_stop_terminates_lab_processes_and_leaves_others_alone(conf, tmp_path):
    ours = start_stand_in(conf)
    other = start_stand_in(tmp_path / "elsewhere.conf")
    try:
        stop([ours.pid, other.pid], conf)
        assert ours.wait(timeout=1) == -15
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_stop_kills_a_process_that_ignores_sigterm(conf, monkeypatch):
    monkeypatch.setattr(processes, "STOP_GRACE_S", 0.3)
    stubborn = start_stand_in(conf, ignore_sigterm=True)
    started = time.monotonic()
    stop([stubborn.pid], conf)
    assert stubborn.wait(timeout=1) == -9
    assert time.monotonic() - started < 3


def test_read_pid_files_by_entity_name_skipping_junk(tmp_path):
    (tmp_path / "mon.a.pid").write_text("123\n")
    (tmp_path / "client.rgw.lab.pid").write_text("456")
    (tmp_path / "osd.0.pid").write_text("")
    (tmp_path / "notes.txt").write_text("789")
    assert read_pid_files(tmp_path) == {"client.rgw.lab": 456, "mon.a": 123}
