"""Putting the shared lab back as it was after a test injected a fault."""
import json
import subprocess
import time

from chopsticks.lab.cluster import not_ready_reason


def ceph(lab, *args) -> str:
    """`ceph ARGS` against the lab; its stdout (a failure raises)."""
    return subprocess.run(["ceph", "-c", str(lab.conf), "--connect-timeout", "20", *args], check=True,
                          capture_output=True, text=True, timeout=60).stdout


def wait_healthy(lab, timeout_s: float = 90.0) -> None:
    """Until HEALTH_OK with every PG active+clean: the next test gets the lab as it was."""
    deadline = time.monotonic() + timeout_s
    reason = "no answer"
    while time.monotonic() < deadline:
        try:
            reason = not_ready_reason(json.loads(ceph(lab, "status", "--format", "json")))
        except subprocess.SubprocessError as e:
            reason = str(e)
        if reason is None:
            return
        time.sleep(0.5)
    raise AssertionError(f"the lab did not come back: {reason}")
