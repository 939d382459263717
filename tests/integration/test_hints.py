"""The hints after a run, on real runs: each appears when its cause is there and not otherwise."""
import os
import subprocess
import sys

import yaml

from helpers.engine_cli import load_json, wait_for_progress

CHOPSTICKS = [sys.executable, "-m", "chopsticks"]


def run_hints(*args, tmp_path) -> list[str]:
    """Run `chopsticks ARGS --json` and return the hints of its result file (also checked on stdout)."""
    out = tmp_path / "result.json"
    proc = subprocess.run([*CHOPSTICKS, *args, "--json", out], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    found = load_json(out)["hints"]
    assert [line for line in proc.stdout.splitlines() if line.startswith("hint: ")] == [f"hint: {h}" for h in found]
    return found


def s3_config(lab, tmp_path, **changes) -> str:
    config = yaml.safe_load(lab.s3_config.read_text())
    config.update(changes)
    path = tmp_path / "s3_config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def get_run(config: str, tmp_path) -> list[str]:
    return run_hints("bench", "s3", "--workload-config", config, "--driver", "native", "--op", "get", "--procs", "1",
                     "--concurrency", "4", "--objects", "10", "--duration", "2s", tmp_path=tmp_path)


def test_get_stall_hint_on_small_native_gets_and_not_with_tcp_quickack(lab, tmp_path):
    default = s3_config(lab, tmp_path)
    assert any(h.startswith("GET p50 ") and "tcp_quickack" in h for h in get_run(default, tmp_path))
    driver_config = {**yaml.safe_load(lab.s3_config.read_text())["driver_config"], "tcp_quickack": True}
    quickack = s3_config(lab, tmp_path, driver_config=driver_config)
    assert not any(h.startswith("GET p50 ") for h in get_run(quickack, tmp_path))


def test_generator_limit_hint_on_bench_null_and_not_on_rbd_at_qd1(lab, tmp_path):
    null = run_hints("bench", "null", "--procs", "1", "--duration", "3s", tmp_path=tmp_path)
    assert any(h.startswith("worker 0 kept its CPU busy") and "not Ceph, set the pace" in h for h in null), null
    rbd = run_hints("bench", "rbd", "--procs", "1", "--iodepth", "1", "--duration", "2s", tmp_path=tmp_path)
    assert not any("kept its CPU busy" in h for h in rbd), rbd


def radosgw_admin(lab, *args) -> None:
    subprocess.run(["radosgw-admin", "-c", str(lab.conf), "-n", f"client.{lab.client_id}", "-k", str(lab.keyring),
                    *args], check=True, capture_output=True, timeout=60)


def test_error_kind_hint_on_a_run_whose_secret_became_wrong(lab, tmp_path):
    """The bucket check before the run refuses a wrong secret, so the secret is changed under a
    running run: every request after that is refused as auth:SignatureDoesNotMatch."""
    uid = f"chopsticks-hints-{os.getpid()}"
    access_key = f"HINTS{os.getpid()}".ljust(20, "X")
    radosgw_admin(lab, "user", "create", "--uid", uid, "--display-name", uid, "--access-key", access_key,
                  "--secret-key", "the-right-secret")
    try:
        config = s3_config(lab, tmp_path, access_key=access_key, secret_key="the-right-secret", bucket=uid)
        out = tmp_path / "result.json"
        proc = subprocess.Popen([*CHOPSTICKS, "bench", "s3", "--workload-config", config, "--driver", "native",
                                 "--op", "put", "--procs", "1", "--concurrency", "2", "--duration", "4s",
                                 "--no-cleanup", "--progress", "plain", "--json", out],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for_progress(proc)
        radosgw_admin(lab, "key", "create", "--uid", uid, "--key-type", "s3", "--access-key", access_key,
                      "--secret-key", "now-a-wrong-secret")
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 4, stderr
        hints = load_json(out)["hints"]
        assert any(h.startswith("100% of the errors are auth (") and "auth:SignatureDoesNotMatch on put" in h
                   and "secret_key" in h for h in hints), (hints, stdout)
    finally:
        radosgw_admin(lab, "user", "rm", "--uid", uid, "--purge-data")


def test_rate_hint_when_qd1_rbd_cannot_reach_the_rate(lab, tmp_path):
    found = run_hints("bench", "rbd", "--procs", "1", "--iodepth", "1", "--rate", "20000", "--duration", "3s",
                      tmp_path=tmp_path)
    assert any(h.startswith("rate mode: ops were sent later and later") and "(--iodepth × workers = 1) all in use"
               in h for h in found), found
