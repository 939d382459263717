"""`chopsticks run`: the shipped scenarios with the mock driver (always) and against the lab,
task failures by type, stopping on time and on Ctrl+C, bounded by --op-timeout, one-line usage
errors, and scenario files written for chopsticks 0.x run unchanged (without Locust)."""
import datetime
import json
import os
import re
import subprocess
import time
from collections import Counter
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
    assert 0.5 < doc["measured_s"] < 12 and doc["summary"][-1]["ops"] > 0
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


STUCK = """
import time
from chopsticks.workloads import S3Workload, task

class Stuck(S3Workload):
    @task
    def sleep_an_hour(self):
        self.client.upload(self.generate_key("stuck"), self.generate_data(10))
        time.sleep(3600)
"""


def test_a_task_sleeping_an_hour_does_not_hold_the_run(tmp_path):
    out = tmp_path / "r.json"
    t0 = time.monotonic()
    r = run("-f", write(tmp_path, "stuck.py", STUCK), "--workload-config", mock_config(tmp_path), "-u", 2, "-r", 10,
            "--duration", "3s", "--op-timeout", "2s", "--json", out, "--quiet", "--no-save")
    took = time.monotonic() - t0
    since_start = time.time() - datetime.datetime.fromisoformat(load_json(out)["started_at"]).timestamp()
    assert since_start < 3 + 2 + 2.5 and took < 15, (since_start, took)    # deadline 3 s + op-timeout 2 s + grace
    assert r.returncode == 4, r.stdout + r.stderr       # stalled ops fail the run
    doc = load_json(out)
    rows = {row["op"]: row for row in doc["summary"]}
    assert doc["partial"] is False and all(w["state"] == "done" for w in doc["workers"])
    assert rows["task:sleep_an_hour"]["stalled"] == 2 and rows["all"]["stalled"] == 2 and rows["upload"]["ops"] == 2
    assert "stalled (in flight longer than --op-timeout 2s): task:sleep_an_hour 2" in r.stdout
    stalled = [row for row in doc["timeseries"] if row["op"] == "task:sleep_an_hour" and row["stalled"]]
    assert stalled and stalled[0]["second"] == 2 and stalled[0]["inflight"] == 2


EXITS = """
import sys
from chopsticks.workloads import S3Workload, constant, task

class Exits(S3Workload):
    wait_time = constant(0.05)

    @task
    def quit(self):
        sys.exit(1)
"""


def test_sys_exit_in_a_task_is_a_counted_failure(tmp_path):
    out = tmp_path / "r.json"
    r = run("-f", write(tmp_path, "exits.py", EXITS), "--workload-config", mock_config(tmp_path), "-u", 2, "-r", 10,
            "-t", "1s", "--json", out, "--quiet", "--no-save")
    assert r.returncode == 4, r.stdout + r.stderr
    doc = load_json(out)
    assert doc["errors_by_kind"]["task:quit"]["SystemExit"] >= 20 and doc["summary"][-1]["ops"] == 0
    assert r.stderr.count("task:quit raised SystemExit") == 2          # once per worker


IDLE = """
from chopsticks.workloads import S3Workload, constant, task

class Idle(S3Workload):
    wait_time = constant(0.1)

    @task
    def nothing(self):
        pass
"""


def test_a_run_that_completed_no_operation_exits_4(tmp_path):
    r = run("-f", write(tmp_path, "idle.py", IDLE), "--workload-config", mock_config(tmp_path), "-t", "1s", "--quiet",
            "--no-save")
    assert r.returncode == 4 and "the run completed no operation" in r.stderr


TAGGED = """
from locust import tag, task
from chopsticks.workloads.s3.s3_workload import S3Workload

class Tagged(S3Workload):
    @tag("write")
    @task
    def put(self):
        self.client.upload(self.generate_key("t"), self.generate_data(10))

    @tag("read", "list")
    @task
    def listing(self):
        self.client.list_objects(prefix="t/", max_keys=10)

    @task
    def head(self):
        self.client.head_object("t/none")
"""


@pytest.mark.parametrize("args, ops", [
    (["--tags", "write"], {"upload"}),
    (["-T", "write,read"], {"upload", "list"}),
    (["--tags", "write", "--tags", "list"], {"upload", "list"}),
    (["--exclude-tags", "read"], {"upload", "head"}),
    (["-E", "read", "-T", "write,list"], {"upload"}),
])
def test_tags_choose_the_tasks(tmp_path, args, ops):
    out = tmp_path / "r.json"
    r = run("-f", write(tmp_path, "tagged.py", TAGGED), "--workload-config", mock_config(tmp_path), "-t", "1s",
            "--json", out, "--quiet", "--no-save", *args)
    assert r.returncode in (0, 4), r.stderr                 # head of a missing key fails: exit 4
    doc = load_json(out)
    assert {row["op"] for row in doc["summary"]} - {"all"} == ops
    task_of = {"upload": "put", "list": "listing", "head": "head"}
    assert set(doc["settings"]["target"]["tasks"]) == {task_of[op] for op in ops}


def test_tags_that_leave_no_task_are_a_one_line_error(tmp_path):
    r = run("-f", write(tmp_path, "tagged.py", TAGGED), "--workload-config", mock_config(tmp_path), "--tags", "nope")
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 2        # the 0.x note, then the error
    assert "no task of Tagged is left to run with --tags nope --exclude-tags - (its tags: list, read, write)" in r.stderr


# --- chopsticks 0.x scenario files ---------------------------------------------------------------

# Written as a chopsticks 0.x user wrote scenarios (its documented workload API on Locust): the 0.x
# imports, get_scenario_value in on_start, OperationType, _record_metric after every client call
# (twice for a failed size check), between(1, 3), uploaded_keys, a size check that raises. It also
# counts, per user, the client calls it made and the size checks that failed, so the test can tell
# whether chopsticks counted each call exactly once.
LEGACY = """
import json
import os
import random
from collections import Counter
from datetime import datetime

from locust import between, task
from chopsticks.metrics import OperationType
from chopsticks.utils.scenario_config import get_scenario_value
from chopsticks.workloads.s3.s3_workload import S3Workload


class LegacyObjects(S3Workload):
    wait_time = between(1, 3)

    def on_start(self):
        self.size = get_scenario_value("legacy_objects", "object_size_kb") * 1024
        self.prefix = os.environ.get("TEST_PREFIX", "legacy")
        self.calls, self.reads = Counter(), 0
        self.uploaded_keys = []
        for size in (self.size, self.size + 1):     # the second one fails the size check when read
            key = self.generate_key(prefix=self.prefix)
            self.calls["upload"] += 1
            if self.client.upload(key, self.generate_data(size)):
                self.uploaded_keys.append(key)

    def _timed(self, op, key, size, start, success, **error):
        self._record_metric(operation_type=op, key=key, size_bytes=size, start_time=start,
                            end_time=datetime.utcnow(), success=success, **error)

    @task(3)
    def upload_object(self):
        key = self.generate_key(prefix=self.prefix)
        start = datetime.utcnow()
        self.calls["upload"] += 1
        success = self.client.upload(key, self.generate_data(self.size))
        self._timed(OperationType.UPLOAD, key, self.size, start, success)
        if success:
            self.uploaded_keys.append(key)

    @task(2)
    def download_object(self):
        if not self.uploaded_keys:
            return
        self.reads += 1
        key = self.uploaded_keys[self.reads % len(self.uploaded_keys)]
        start, data = datetime.utcnow(), None
        try:
            self.calls["download"] += 1
            data = self.client.download(key)
            if data is None:
                raise Exception(f"Download failed for key: {key}")
            if len(data) != self.size:
                self.calls["size_mismatch"] += 1
                self._timed(OperationType.DOWNLOAD, key, len(data), start, False, error_code="SizeMismatch")
                raise Exception(f"size mismatch: expected {self.size}, got {len(data)}")
            self._timed(OperationType.DOWNLOAD, key, len(data), start, True)
        except Exception as e:
            self._timed(OperationType.DOWNLOAD, key, 0, start, False, error_code=type(e).__name__)
            raise

    @task(1)
    def delete_object(self):
        if len(self.uploaded_keys) < 3:
            return
        key = self.uploaded_keys.pop(random.randrange(2, len(self.uploaded_keys)))
        start = datetime.utcnow()
        self.calls["delete"] += 1
        self._timed(OperationType.DELETE, key, 0, start, self.client.delete(key))

    def on_stop(self):
        for key in self.uploaded_keys:
            self.client.delete(key)
        with open(os.path.join(os.environ["LEGACY_COUNTS"], f"{os.getpid()}-{id(self)}.json"), "w") as f:
            json.dump(self.calls, f)
"""


def as_native(legacy: str) -> str:
    """The same scenario written for this chopsticks: its own imports, no _record_metric."""
    native = legacy.replace("""from locust import between, task
from chopsticks.metrics import OperationType
from chopsticks.utils.scenario_config import get_scenario_value
from chopsticks.workloads.s3.s3_workload import S3Workload
""", "from chopsticks.workloads import S3Workload, between, get_scenario_value, task\n")
    native = native.replace("""        self._record_metric(operation_type=op, key=key, size_bytes=size, start_time=start,
                            end_time=datetime.utcnow(), success=success, **error)""", "        pass")
    native = re.sub(r"OperationType\.\w+", "None", native)
    assert "locust" not in native and "_record_metric" not in native
    return native


def run_counted(tmp_path, name: str, text: str, *args, timeout=180) -> tuple[subprocess.CompletedProcess, dict, Counter]:
    """Run a counting scenario; its result document and the calls its users say they made."""
    counts = tmp_path / f"{name}-counts"
    counts.mkdir()
    out = tmp_path / f"{name}.json"
    proc = subprocess.run([*CHOPSTICKS, "run", "-f", str(write(tmp_path, f"{name}.py", text)), *map(str, args),
                           "--json", str(out), "--quiet", "--no-save"], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "LEGACY_COUNTS": str(counts), "TEST_PREFIX": f"legacy-{name}"})
    calls = sum((Counter(json.loads(f.read_text())) for f in counts.iterdir()), Counter())
    return proc, (load_json(out) if out.exists() else {}), calls


def recorded(doc: dict) -> Counter:
    """Completions per op over the whole run (measured and drain), ok or failed."""
    total = Counter()
    for row in doc["timeseries"]:
        total[row["op"]] += row["iops"] + row["errors"]
    return total


def check_counted_once(doc: dict, calls: Counter, users: int) -> dict:
    rows = {row["op"]: row for row in doc["summary"]}
    done = recorded(doc)
    for op in ("upload", "download", "delete"):
        assert done[op] == calls[op], (op, done, calls)          # each client call counted once, no more
    assert calls["upload"] >= 2 * users and calls["download"] > 0
    assert done["task:download_object"] == calls["size_mismatch"]    # the raising size check, under the task
    assert set(doc["errors_by_kind"].get("task:download_object", {})) <= {"Exception"}
    assert rows["upload"]["errors"] == 0 and "download" not in doc["errors_by_kind"]
    return rows


@pytest.mark.ceph
def test_a_0x_scenario_runs_unchanged_with_the_0x_command_line(lab, tmp_path):
    scenario_config = write(tmp_path, "legacy.yaml", "legacy_objects:\n  object_size_kb: 16\n")
    args = ("--workload-config", boto3_lab_config(tmp_path, lab), "--scenario-config", scenario_config,
            "--headless", "--users", 4, "--spawn-rate", 2, "--duration", "10s")
    before = bucket_keys(lab)
    legacy, legacy_doc, legacy_calls = run_counted(tmp_path, "legacy", LEGACY, *args)
    assert legacy.returncode == 4, legacy.stdout + legacy.stderr        # the size check failed some tasks
    assert "chopsticks: note: 0.x scenario API (locust, chopsticks.metrics.OperationType, " \
           "chopsticks.utils.scenario_config, chopsticks.workloads.s3.s3_workload): running through chopsticks' " \
           "compatibility names" in legacy.stderr
    legacy_rows = check_counted_once(legacy_doc, legacy_calls, users=4)
    native, native_doc, native_calls = run_counted(tmp_path, "native", as_native(LEGACY), *args)
    assert native.returncode == 4 and "0.x scenario API" not in native.stderr
    native_rows = check_counted_once(native_doc, native_calls, users=4)
    for rows in (legacy_rows, native_rows):                               # the same op names
        assert {"upload", "download", "all"} <= set(rows) <= {"upload", "download", "delete", "task:download_object",
                                                               "all"}
    assert bucket_keys(lab) <= before                                     # on_stop deleted the rest


FAKE_LOCUST = """
import os
open(os.environ["REAL_LOCUST_MARK"], "a").write(f"imported in {os.getpid()}\\n")
from gevent import monkey
monkey.patch_all()
"""


def test_the_real_locust_is_never_imported(tmp_path):
    site = tmp_path / "site"
    (site / "locust").mkdir(parents=True)
    (site / "locust" / "__init__.py").write_text(FAKE_LOCUST)          # an installed Locust that would patch gevent
    mark = tmp_path / "imported"
    scenario = write(tmp_path, "legacy.py", """
import sys
from locust import between, constant, constant_pacing, events, tag, task
from chopsticks.workloads.s3.s3_workload import S3Workload

class Legacy(S3Workload):
    wait_time = between(0.01, 0.02)

    @task
    def put(self):
        assert "gevent" not in sys.modules and sys.modules["locust"].__name__ == "chopsticks.workloads.locust_names"
        ok = self.client.upload(self.generate_key("l"), self.generate_data(10))
        events.request.fire(request_type="S3", name="upload", response_time=1, response_length=10, exception=None,
                            context={})
""")
    out = tmp_path / "r.json"
    env = {**os.environ, "REAL_LOCUST_MARK": str(mark),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    args = ["run", "-f", scenario, "--workload-config", mock_config(tmp_path), "-u", 2, "-r", 10, "-t", "1s",
            "--procs", 2, "--json", out, "--quiet", "--no-save"]
    r = chopsticks(*args, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not mark.exists()                                              # neither in the parent nor in a worker
    rows = {row["op"]: row for row in load_json(out)["summary"]}
    assert set(rows) == {"upload", "all"} and rows["upload"]["ops"] > 20   # request.fire counted nothing more


def test_a_shipped_scenario_by_name_with_a_0x_scenario_config(tmp_path):
    config = write(tmp_path, "0x.yaml", "s3_large_objects:\n  object_size_mb: 1\n  max_keys_in_memory: 10\n")
    out = tmp_path / "r.json"
    r = run("-f", "s3_large_objects", "--scenario-config", config, "--workload-config", mock_config(tmp_path),
            "--headless", "-u", 2, "-r", 2, "-t", "2s", "--json", out, "--quiet", "--no-save")
    assert r.returncode == 0, r.stdout + r.stderr
    doc = load_json(out)
    assert doc["settings"]["target"]["scenario_file"].endswith("chopsticks/scenarios/s3_large_objects.py")
    rows = {row["op"]: row for row in doc["summary"]}
    assert rows["upload"]["ops"] >= 2 and rows["upload"]["bytes"] == rows["upload"]["ops"] << 20     # its 1 MiB


def test_an_unknown_scenario_name_lists_the_shipped_ones(tmp_path):
    r = run("-f", "s3_huge_objects", "--workload-config", mock_config(tmp_path))
    assert r.returncode == 2 and "File 's3_huge_objects' does not exist, nor is it a shipped scenario" in r.stderr
    assert "example_scenario, rbd_random_io, s3_large_objects, s3_mixed_listing, s3_small_objects" in r.stderr
