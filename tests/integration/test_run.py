"""`chopsticks run`: the shipped scenarios with the mock driver (always) and against the lab,
task failures by type, stopping on time and on Ctrl+C, and one-line usage errors."""
import re
import subprocess
import time
from pathlib import Path

import pytest

from helpers.engine_cli import CHOPSTICKS, chopsticks, interrupt_once_running, load_json

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"

# Scenario parameters for short runs: no pauses, small objects.
FAST_CONFIG = """
s3_large_objects: {object_size_mb: 1, max_keys_in_memory: 5, min_wait_s: 0, max_wait_s: 0}
s3_small_objects: {object_size_kb: 4, max_keys_in_memory: 20, min_wait_s: 0, max_wait_s: 0}
s3_mixed_listing: {object_size_kb: 4, max_keys_in_memory: 20, list_max_keys: 100, min_wait_s: 0, max_wait_s: 0}
rbd_random_io: {block_size_kb: 4, span_mb: 64, min_wait_s: 0, max_wait_s: 0}
example_scenario: {object_size_kb: 4, prefix: test-example}
"""

# scenario → (client ops it must use in a short run, client ops it may use, bytes per upload)
S3_SCENARIOS = {
    "s3_large_objects": ({"upload", "download", "delete"}, {"upload", "download", "delete"}, 1 << 20),
    "s3_small_objects": ({"upload", "download", "head"}, {"upload", "download", "head", "delete"}, 4096),
    "s3_mixed_listing": ({"upload", "download", "head", "list", "delete"},
                         {"upload", "download", "head", "list", "delete"}, 4096),
}


def run(*args, timeout=120) -> subprocess.CompletedProcess:
    return chopsticks("run", *args, timeout=timeout)


def write(tmp_path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def mock_config(tmp_path, **overrides) -> Path:
    values = {"endpoint": "http://127.0.0.1:1", "access_key": "a", "secret_key": "s", "bucket": "b", "driver": "mock"}
    values.update(overrides)
    return write(tmp_path, "mock.yaml", "".join(f"{k}: {v}\n" for k, v in values.items()))


def boto3_lab_config(tmp_path, lab) -> Path:
    return mock_config(tmp_path, endpoint=lab.s3_endpoint, access_key=lab.access_key, secret_key=lab.secret_key,
                       bucket=lab.bucket, driver="boto3")


def check_run(tmp_path, scenario: Path, *args, must: set, may: set, users=4) -> dict:
    """Run briefly; check exit 0, the op names, and that the counts add up across outputs."""
    out = tmp_path / "r.json"
    r = run("-f", scenario, "--scenario-config", write(tmp_path, "fast.yaml", FAST_CONFIG), "--headless",
            "--users", users, "--spawn-rate", 20, "--duration", "2s", "--procs", 2, "--json", out, "--quiet", *args,
            timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = load_json(out)
    rows = {row["op"]: row for row in doc["summary"]}
    ops = set(rows) - {"all"}
    assert must <= ops <= may, ops
    assert sum(rows[op]["ops"] for op in ops) == rows["all"]["ops"] > 0
    assert rows["all"]["errors"] == 0
    assert rows["all"]["ops"] + doc["drain_ops"] == sum(w["completed"] for w in doc["workers"])
    assert 1.9 < doc["measured_s"] < 2.6
    assert doc["settings"]["target"]["users"] == users and doc["settings"]["procs"] == 2
    return rows


@pytest.mark.parametrize("name", sorted(S3_SCENARIOS))
def test_shipped_s3_scenarios_with_the_mock_driver(tmp_path, name):
    must, may, size = S3_SCENARIOS[name]
    rows = check_run(tmp_path, SCENARIOS / f"{name}.py", "--workload-config", mock_config(tmp_path), must=must, may=may)
    assert rows["upload"]["bytes"] == rows["upload"]["ops"] * size


def bucket_keys(lab) -> set[str]:
    import boto3
    s3 = boto3.client("s3", endpoint_url=lab.s3_endpoint, aws_access_key_id=lab.access_key,
                      aws_secret_access_key=lab.secret_key, region_name="us-east-1")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=lab.bucket)
    return {obj["Key"] for page in pages for obj in page.get("Contents", [])}


@pytest.mark.ceph
@pytest.mark.parametrize("name", sorted(S3_SCENARIOS))
def test_shipped_s3_scenarios_against_rgw_leave_nothing_behind(lab, tmp_path, name):
    must, may, size = S3_SCENARIOS[name]
    before = bucket_keys(lab)
    rows = check_run(tmp_path, SCENARIOS / f"{name}.py", "--workload-config", boto3_lab_config(tmp_path, lab),
                     must=must, may=may)
    assert rows["upload"]["bytes"] == rows["upload"]["ops"] * size
    assert bucket_keys(lab) <= before                                # on_stop deleted what the users kept


@pytest.mark.ceph
def test_rbd_random_io_against_the_lab(lab, tmp_path):
    rows = check_run(tmp_path, SCENARIOS / "rbd_random_io.py", must={"read", "write"}, may={"read", "write"})
    assert rows["read"]["bytes"] == rows["read"]["ops"] * 4096
    assert rows["read"]["ops"] > rows["write"]["ops"] > 0            # weights 7:3


@pytest.mark.ceph
def test_rbd_missing_image_is_a_one_line_error(lab, tmp_path):
    config = write(tmp_path, "rbd.yaml", "image: no-such-image\n")
    r = run("-f", SCENARIOS / "rbd_random_io.py", "--workload-config", config, "--duration", "1s")
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1
    assert "image 'rbd/no-such-image' does not exist" in r.stderr


def readme_example() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Scenarios", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.ceph
def test_the_readme_example_runs_against_the_lab_with_its_default_config(lab, tmp_path):
    assert readme_example() == (SCENARIOS / "example_scenario.py").read_text()
    out = tmp_path / "r.json"
    r = run("-f", SCENARIOS / "example_scenario.py", "--workload-config", lab.s3_config, "--headless", "-u", 2,
            "-r", 2, "-t", "3s", "--json", out, "--quiet", timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = {row["op"]: row for row in load_json(out)["summary"]}
    assert set(rows) - {"all"} <= {"upload", "download", "list"}
    assert rows["all"]["ops"] > 0 and rows["all"]["errors"] == 0


FAILING = """
from chopsticks.workloads import S3Workload, constant, task

class SizeMismatch(Exception):
    pass

class Failing(S3Workload):
    wait_time = constant(0.01)

    @task(2)
    def put(self):
        self.client.upload(self.generate_key("f"), self.generate_data(100))

    @task(1)
    def check(self):
        raise SizeMismatch("expected 100 bytes")

    @task(1)
    def lookup(self):
        return {}["missing"]
"""


def test_raising_tasks_are_counted_by_type_and_the_run_goes_on(tmp_path):
    out = tmp_path / "r.json"
    r = run("-f", write(tmp_path, "failing.py", FAILING), "--workload-config", mock_config(tmp_path), "-u", 2,
            "-r", 10, "-t", "2s", "--procs", 1, "--json", out, "--quiet")
    assert r.returncode == 4, r.stdout + r.stderr
    doc = load_json(out)
    kinds = doc["errors_by_kind"]
    assert set(kinds) == {"task:check", "task:lookup"}
    assert set(kinds["task:check"]) == {"SizeMismatch"} and set(kinds["task:lookup"]) == {"KeyError"}
    rows = {row["op"]: row for row in doc["summary"]}
    assert rows["upload"]["ops"] > 50 and rows["upload"]["errors"] == 0
    assert rows["all"]["errors"] == kinds["task:check"]["SizeMismatch"] + kinds["task:lookup"]["KeyError"]
    assert "errors task:check: SizeMismatch" in r.stdout
    # logged once per type (one worker), with the line in the scenario file
    assert r.stderr.count("task:check raised SizeMismatch at line 16: expected 100 bytes") == 1
    assert r.stderr.count("task:lookup raised KeyError") == 1 and "Traceback" not in r.stderr


SLOW = """
from chopsticks.workloads import S3Workload, constant, task

class Slow(S3Workload):
    wait_time = constant(30)

    @task
    def put(self):
        self.client.upload(self.generate_key("slow"), self.generate_data(10))
"""


def test_duration_stops_users_in_a_long_pause(tmp_path):
    out = tmp_path / "r.json"
    t0 = time.monotonic()
    r = run("-f", write(tmp_path, "slow.py", SLOW), "--workload-config", mock_config(tmp_path), "-u", 3, "-r", 3,
            "-t", "2s", "--json", out, "--quiet")
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    doc = load_json(out)
    assert 1.9 < doc["measured_s"] < 2.2 and took < 12
    assert doc["summary"][-1]["ops"] == 3                           # each user's first task, then a 30 s pause


def test_ctrl_c_stops_the_users_and_writes_the_results(tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.Popen([*CHOPSTICKS, "run", "-f", str(SCENARIOS / "s3_small_objects.py"), "--scenario-config",
                             str(write(tmp_path, "fast.yaml", FAST_CONFIG)), "--workload-config",
                             str(mock_config(tmp_path)), "-u", "4", "-r", "4", "-t", "60s", "--json", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    code, stdout, _ = interrupt_once_running(proc)
    assert code == 130
    doc = load_json(out)
    assert doc["partial"] is True and "interrupted" in doc["notes"][0]
    assert 4 < doc["measured_s"] < 12 and doc["summary"][-1]["ops"] > 0
    assert "PARTIAL RESULT" in stdout


MISSING_PARAMETER = """
from chopsticks.workloads import S3Workload, get_scenario_value, task

SIZE = get_scenario_value("mine", "size_kb")

class Mine(S3Workload):
    @task
    def t(self):
        pass
"""


@pytest.mark.parametrize("args, code, needle", [
    (["-f", "nonexistent.py"], 2, "'nonexistent.py' does not exist"),
    (["-f", "{tmp}/empty.py"], 1, "no workload class"),
    (["-f", "{tmp}/missing.py"], 1, "scenario parameter 'size_kb' of 'mine' is not set"),
    (["-f", str(SCENARIOS / "example_scenario.py"), "--headless", "--users", "3"], 2, "--spawn-rate"),
    (["-f", str(SCENARIOS / "example_scenario.py"), "--spawn-rate", "0"], 2, "more than 0 users per second"),
    (["-f", str(SCENARIOS / "example_scenario.py"), "--duration", "5x"], 2, "cannot read '5x' as a duration"),
    (["-f", str(SCENARIOS / "example_scenario.py"), "--users", "2", "--procs", "3"], 2, "more worker processes than users"),
])
def test_bad_input_is_a_one_line_error(tmp_path, args, code, needle):
    write(tmp_path, "empty.py", "x = 1\n")
    write(tmp_path, "missing.py", MISSING_PARAMETER)
    r = run(*[a.format(tmp=tmp_path) for a in args], "--workload-config", mock_config(tmp_path), "--quiet")
    assert r.returncode == code, r.stdout + r.stderr
    assert needle in r.stderr and "Traceback" not in r.stderr
    if code == 1:
        assert len(r.stderr.strip().splitlines()) == 1
