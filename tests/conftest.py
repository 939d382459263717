"""Test-suite wiring: the `ceph` marker policy, the session's Ceph lab, and running the CLI as a user does.

A test needs Ceph if it is marked `ceph` or uses the `lab` fixture. Without Ceph installed (no
`ceph-mon` on PATH) such a test is skipped, or fails when CHOPSTICKS_REQUIRE_CEPH=1 (as in CI).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from chopsticks.lab import LabInfo, down, find_running, up

CHOPSTICKS = [sys.executable, "-m", "chopsticks"]


def _ceph_missing_reason() -> str | None:
    """Why Ceph tests cannot run here, or None if they can."""
    if shutil.which("ceph-mon") is None:
        return "Ceph is not installed (no ceph-mon on PATH); see scripts/bootstrap"
    return None


def _apply_ceph_policy() -> None:
    """Skip the current test when Ceph is missing, or fail it if CHOPSTICKS_REQUIRE_CEPH=1."""
    reason = _ceph_missing_reason()
    if reason is None:
        return
    if os.environ.get("CHOPSTICKS_REQUIRE_CEPH") == "1":
        pytest.fail(f"{reason}, and CHOPSTICKS_REQUIRE_CEPH=1", pytrace=False)
    pytest.skip(reason)  # only without Ceph and without CHOPSTICKS_REQUIRE_CEPH=1


def pytest_collection_modifyitems(config, items):
    """Mark every test that uses the `lab` fixture as `ceph`, so `-m "not ceph"` leaves it out too."""
    for item in items:
        if "lab" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.ceph)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Apply the Ceph policy before any fixture (such as the session's lab) is set up."""
    if item.get_closest_marker("ceph"):
        _apply_ceph_policy()


@pytest.fixture(scope="session", autouse=True)
def results_outside_the_work_tree(tmp_path_factory):
    """Runs started by the tests keep their results (run directory) in a temporary directory,
    not in ./chopsticks-results of the work tree; a test that checks the default unsets it."""
    os.environ.setdefault("CHOPSTICKS_RUN_DIR", str(tmp_path_factory.mktemp("results")))


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> LabInfo:
    """A running lab for the whole session: the one in $CHOPSTICKS_LAB_DIR if it runs (left running
    at the end), else a new one in a temporary directory (stopped at the end), which then becomes
    $CHOPSTICKS_LAB_DIR for the session."""
    _apply_ceph_policy()
    shared_dir = os.environ.get("CHOPSTICKS_LAB_DIR")
    shared = find_running(Path(shared_dir)) if shared_dir else None
    if shared:
        yield shared
        return
    lab_dir = tmp_path_factory.mktemp("lab")
    info, _ = up(lab_dir, log=lambda message: None)
    # Commands run by the tests find this lab as a user's find theirs: as the default target.
    os.environ["CHOPSTICKS_LAB_DIR"] = str(lab_dir)
    try:
        yield info
    finally:
        del os.environ["CHOPSTICKS_LAB_DIR"]
        down(lab_dir)


class CliResult(NamedTuple):
    """What a `chopsticks` process did."""

    exit_code: int
    stdout: str
    stderr: str


def run_cli(*args, timeout: float = 120, env: dict[str, str] | None = None) -> CliResult:
    """Run `chopsticks ARGS...` as a separate process, as a user would; fail the test on a hang."""
    proc = subprocess.run([*CHOPSTICKS, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=env, stdin=subprocess.DEVNULL)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli():
    """`run_cli`: `cli("lab", "status")` returns (exit_code, stdout, stderr)."""
    return run_cli
