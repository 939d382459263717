"""The scenario API (task weights and tags, wait times, payloads, scenario parameters, loading a
scenario file, the timed clients, chopsticks 0.x's names) and the scenario session run in-process
with the mock S3 driver."""
import random
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from chopsticks.backends.scenario import EXCEPTION_CODE_BASE, ScenarioTarget
from chopsticks.backends.threads import END_GRACE_NS
from chopsticks.config import S3Config
from chopsticks.drivers.s3.base import ERROR_KINDS
from chopsticks.engine.contract import ERR_VERIFY, error_namer
from chopsticks.engine.shm import ERR_CODES, ERR_OTHER, ERR_STALLED, N_PHASES, NBUCKETS, TS_FIELDS, Phase, TsField
from chopsticks.errors import ChopsticksError
from chopsticks.metrics import OperationType
from chopsticks.plan import Plan
from chopsticks.workloads import S3Workload, between, constant, constant_pacing, get_scenario_value, tag, task
from chopsticks.workloads import rbd as rbd_workload
from chopsticks.workloads.base import PayloadPool, tasks_of
from chopsticks.workloads.locust_names import events
from chopsticks.workloads.loader import (BUILTIN_EXCEPTIONS, SHIPPED_SCENARIOS, compat_imports, exception_names,
                                         load_workload, shipped_scenario, shipped_scenarios)
from chopsticks.workloads.s3 import S3Client
from chopsticks.workloads.scenario_config import (SHIPPED_DEFAULTS, ScenarioConfig, activate, default_path,
                                                  load_scenario_config)

REPO = Path(__file__).resolve().parents[2]


# --- task, wait times, payloads ------------------------------------------------------------------

class Base(S3Workload):
    abstract = True

    @task(2)
    def a(self): ...

    @task
    def b(self): ...

    def helper(self): ...


class Child(Base):
    @task(5)
    def c(self): ...

    def b(self): ...        # overridden by a plain method: no longer a task


def test_task_weights_and_inheritance():
    tasks = tasks_of(Child)
    assert list(tasks) == ["a", "c"]
    assert [fn.task_weight for fn in tasks.values()] == [2, 5]
    assert {name: fn.task_weight for name, fn in tasks_of(Base).items()} == {"a": 2, "b": 1}


@pytest.mark.parametrize("weight", [0, -1, 1.5, True, "3"])
def test_task_weight_must_be_a_positive_integer(weight):
    with pytest.raises(ValueError, match="weight"):
        task(weight)


class Tagged(S3Workload):
    abstract = True

    @task
    @tag("write")
    def put(self): ...

    @tag("read", "slow")
    @task(2)
    def get(self): ...

    @task
    def untagged(self): ...


def test_tags_select_tasks_as_locust_does():
    assert list(tasks_of(Tagged)) == ["put", "get", "untagged"]
    assert list(tasks_of(Tagged, tags=("read",))) == ["get"]                      # untagged tasks drop out
    assert list(tasks_of(Tagged, tags=("read", "write"))) == ["put", "get"]
    assert list(tasks_of(Tagged, exclude_tags=("slow",))) == ["put", "untagged"]
    assert list(tasks_of(Tagged, tags=("read", "write"), exclude_tags=("slow",))) == ["put"]
    with pytest.raises(ValueError):
        tag()


class _User:
    def __init__(self, started):
        self.random, self.task_started = random.Random(1), started


def test_wait_times():
    user = _User(time.monotonic() - 0.3)
    waits = [between(0.2, 0.4)(user) for _ in range(1000)]
    assert 0.2 <= min(waits) < 0.21 and 0.39 < max(waits) <= 0.4
    assert constant(1.5)(user) == 1.5
    assert constant_pacing(1.0)(user) == pytest.approx(0.7, abs=0.05)     # the task took 0.3 s
    assert constant_pacing(0.1)(user) == 0.0


def test_payload_pool_slices_one_random_buffer():
    pool = PayloadPool(seed=7)
    small, big = pool.get(1000), pool.get(1 << 20)
    assert len(small) == 1000 and len(big) == 1 << 20
    assert big[:1000] == small and pool.get(1000) is small          # cached by size, not regenerated
    assert len(set(big[:4096])) > 200                                 # random bytes, not a pattern
    assert PayloadPool(seed=8).get(1000) != small


def test_generate_key_and_data():
    user = S3Workload(_FakeClient(), 3, 1, PayloadPool(seed=1))
    prefix, _, tail = user.generate_key("pre/fix").rpartition("/")
    assert prefix == "pre/fix" and uuid.UUID(tail).version == 4
    assert user.generate_data(123) is user.generate_data(123) and user.user_id == 3


class _FakeClient:
    config = S3Config(endpoint="http://mock", access_key="a", secret_key="s", bucket="bk")


# --- scenario parameters -------------------------------------------------------------------------

def test_scenario_values_and_missing_key(tmp_path):
    path = tmp_path / "sc.yaml"
    path.write_text("big:\n  size_mb: 4\nempty:\n")
    activate(load_scenario_config(path))
    try:
        assert get_scenario_value("big", "size_mb") == 4
        assert get_scenario_value("big", "other", required=False) is None
        with pytest.raises(ChopsticksError, match=f"'other' of 'big' is not set: {path}"):
            get_scenario_value("big", "other")
        with pytest.raises(ChopsticksError, match="'x' of 'empty'"):
            get_scenario_value("empty", "x")
    finally:
        activate(ScenarioConfig(None))
    with pytest.raises(ChopsticksError, match="no scenario config"):
        get_scenario_value("big", "size_mb")


def test_scenario_config_sections_must_be_mappings(tmp_path):
    path = tmp_path / "sc.yaml"
    path.write_text("big: [1, 2]\n")
    with pytest.raises(ChopsticksError, match="'big' must be a mapping of parameters, got list"):
        load_scenario_config(path)


def test_default_scenario_config_is_found_next_to_the_scenarios(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "scenarios").mkdir(parents=True)
    (project / "config").mkdir()
    (project / "config" / "scenario_config_default.yaml").write_text("a: {}\n")
    monkeypatch.chdir(tmp_path)
    assert default_path(project / "scenarios" / "x.py") == project / "config" / "scenario_config_default.yaml"
    assert default_path(tmp_path / "x.py") == SHIPPED_DEFAULTS                   # none of the user's: the shipped one
    assert default_path(SHIPPED_SCENARIOS / "s3_large_objects.py") == SHIPPED_DEFAULTS
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "scenario_config_default.yaml").write_text("a: {}\n")
    assert default_path(project / "scenarios" / "x.py") == Path("config/scenario_config_default.yaml")


def test_the_scenarios_and_their_defaults_have_one_source_the_package():
    assert SHIPPED_SCENARIOS == REPO / "src" / "chopsticks" / "scenarios"
    assert (REPO / "scenarios").is_symlink() and (REPO / "scenarios").resolve() == SHIPPED_SCENARIOS
    assert (REPO / "config" / "scenario_config_default.yaml").resolve() == SHIPPED_DEFAULTS
    assert shipped_scenarios() == ["example_scenario", "rbd_random_io", "s3_large_objects", "s3_mixed_listing",
                                   "s3_small_objects"]
    assert shipped_scenario("s3_large_objects") == shipped_scenario("s3_large_objects.py") == \
        SHIPPED_SCENARIOS / "s3_large_objects.py"
    assert shipped_scenario("nope") is None and shipped_scenario("__init__") is None


def test_shipped_default_config_keeps_the_0x_keys():
    values = load_scenario_config(None).values
    assert values["s3_large_objects"]["max_keys_in_memory"] == 10
    assert 1 <= values["s3_large_objects"]["object_size_mb"] <= 4


def test_keys_a_config_does_not_set_come_from_the_shipped_defaults(tmp_path):
    path = tmp_path / "0x.yaml"                                          # a chopsticks 0.x scenario config
    path.write_text("s3_large_objects:\n  object_size_mb: 1\n  max_keys_in_memory: 7\nmine: {size: 3}\n")
    config = load_scenario_config(path)
    assert config.value("s3_large_objects", "object_size_mb") == 1         # the file's values win
    assert config.value("s3_large_objects", "max_keys_in_memory") == 7
    assert config.value("s3_large_objects", "min_wait_s") == 1             # added since 0.x: the shipped default
    assert config.value("example_scenario", "prefix") == "example"
    assert config.value("mine", "size") == 3
    with pytest.raises(ChopsticksError, match=f"'other' of 'mine' is not set: {path}"):
        config.value("mine", "other")


# --- loading a scenario file ---------------------------------------------------------------------

HEADER = "from chopsticks.workloads import S3Workload, RBDWorkload, Workload, task, constant\n"


def scenario(tmp_path, body: str, name: str = "scn.py", header: str = HEADER) -> str:
    path = tmp_path / name
    path.write_text(header + textwrap.dedent(body))
    return str(path)


def test_load_finds_the_one_workload_class(tmp_path):
    path = scenario(tmp_path, """
        class Mine(S3Workload):
            abstract = True
        class Concrete(Mine):
            @task
            def t(self): pass
        class Oops(ValueError): pass
    """)
    cls = load_workload(path)
    assert cls.__name__ == "Concrete"
    names = exception_names(cls)
    assert names[:len(BUILTIN_EXCEPTIONS)] == BUILTIN_EXCEPTIONS and names[-1] == "Oops"


@pytest.mark.parametrize("body, message", [
    ("x = 1\n", "no workload class"),
    ("class A(S3Workload):\n    @task\n    def t(self): pass\nclass B(A): pass\n", "several workload classes (A, B)"),
    ("class A(Workload):\n    @task\n    def t(self): pass\n", "A must derive from S3Workload or RBDWorkload"),
    ("class A(RBDWorkload):\n    def t(self): pass\n", "A has no @task methods"),
    ("class A(S3Workload):\n    wait_time = 3\n    @task\n    def t(self): pass\n", "wait_time must be"),
    ("def broken(:\n", "SyntaxError: invalid syntax (line 2)"),
    ("import no_such_module_here\n", "ModuleNotFoundError: No module named 'no_such_module_here' (line 2)"),
])
def test_load_errors_are_one_line(tmp_path, body, message):
    with pytest.raises(ChopsticksError) as e:
        load_workload(scenario(tmp_path, body))
    assert message in str(e.value) and "\n" not in str(e.value)


# --- the timed S3 client -------------------------------------------------------------------------

class Recorder:
    """Stands for the session's ThreadedCalls: what the clients record."""

    def __init__(self):
        self.oks, self.errors, self.records = [], [], []

    def begin(self, op):
        return op, time.monotonic_ns()

    def ok(self, call, nbytes):
        op, t0 = call
        assert 0 < time.monotonic_ns() - t0 < 10**9
        self.oks.append((op, nbytes))

    def error(self, call, code):
        self.errors.append((call[0], code))

    def record(self, op, ok, lat_ns, nbytes, code):
        self.records.append((op, ok, lat_ns, nbytes, code))


def mock_config(**driver_config) -> S3Config:
    return S3Config(endpoint="http://mock", access_key="a", secret_key="s", bucket=f"b-{uuid.uuid4().hex[:8]}",
                    driver="mock", driver_config=driver_config)


def test_s3_client_times_and_records_every_call():
    config = mock_config()
    rec = Recorder()
    client = S3Client(S3Client.connect(config), rec)
    assert client.upload("k/1", b"x" * 100)
    assert client.download("k/1") == b"x" * 100
    assert client.head_object("k/1")["size"] == 100
    assert client.list_objects(prefix="k/") == ["k/1"]
    assert client.list_objects(prefix="none/") == []                 # empty, but not a failure
    assert client.delete("k/1")
    assert client.download("k/1") is None
    assert rec.oks == [(0, 100), (1, 100), (4, 0), (3, 0), (3, 0), (2, 0)]
    assert rec.errors == [(1, ERROR_KINDS.index("not_found") + 1)]
    assert client.task_ops == {0, 1, 2, 3, 4}
    client.recorder = None                                            # on_stop: not measured
    client.upload("k/2", b"y")
    assert len(rec.oks) == 6


def test_scenario_error_names():
    target = ScenarioTarget(scenario_file=str(REPO / "scenarios" / "s3_small_objects.py"), workload_config=None,
                            scenario_config=load_scenario_config(REPO / "config" / "scenario_config_default.yaml"),
                            users=1, spawn_rate=1)
    assert target.op_names == ("upload", "download", "delete", "list", "head", "on_start", "task:upload",
                               "task:download", "task:head")
    assert target.error_name(ERROR_KINDS.index("auth") + 1) == "auth"
    assert target.error_name(EXCEPTION_CODE_BASE + BUILTIN_EXCEPTIONS.index("KeyError")) == "KeyError"
    assert target.error_name(EXCEPTION_CODE_BASE + BUILTIN_EXCEPTIONS.index("SystemExit")) == "SystemExit"
    name_of = error_namer(target)         # what every reader of a run uses: reserved codes first
    assert name_of(ERR_STALLED) == "stalled" and name_of(ERR_OTHER) == "other" and name_of(ERR_VERIFY) == "verify"
    assert name_of(ERROR_KINDS.index("auth") + 1) == "auth"


# --- the session, in-process ---------------------------------------------------------------------

class Rows:
    """One worker's shared-memory rows, as plain arrays."""

    def __init__(self, n_ops: int, secs: int = 30):
        self.n_ops = n_ops
        self.hist = np.zeros(N_PHASES * n_ops * NBUCKETS, dtype=np.uint64)
        self.ts = np.zeros(secs * n_ops * TS_FIELDS, dtype=np.int64)
        self.errors = np.zeros(N_PHASES * n_ops * ERR_CODES, dtype=np.int64)

    def ops(self, op: int) -> int:
        return int(self.ts.reshape(-1, self.n_ops, TS_FIELDS)[:, op, TsField.OPS].sum())

    def gauge(self, op: int, field: TsField) -> list[int]:
        return [int(v) for v in self.ts.reshape(-1, self.n_ops, TS_FIELDS)[:, op, field]]

    def stalled(self, op: int, phase: Phase = Phase.MEASURED) -> int:
        return int(self.errors.reshape(N_PHASES, self.n_ops, ERR_CODES)[phase, op, ERR_STALLED])

    def first_second(self, op: int) -> int:
        return int(np.nonzero(self.ts.reshape(-1, self.n_ops, TS_FIELDS)[:, op, TsField.OPS])[0][0])

    def error_counts(self, op: int) -> dict[int, int]:
        errs = self.errors.reshape(N_PHASES, self.n_ops, ERR_CODES).sum(axis=0)[op]
        return {int(c): int(errs[c]) for c in np.nonzero(errs)[0]}


SESSION_SCENARIO = """
    import time
    class Bad(Exception): pass
    class Users(S3Workload):
        wait_time = constant(0.01)
        def on_start(self):
            self.key = self.generate_key(f"u{self.user_id}")
            self.client.upload(self.key, self.generate_data(10))
        @task(3)
        def get(self):
            assert self.client.download(self.key) is not None
        @task(1)
        def fail(self):
            raise Bad("always")
        def on_stop(self):
            self.client.delete(self.key)
"""


def run_session(tmp_path, body, users=3, spawn_rate=100.0, duration_s=1.0, procs=1, index=0, stop=None,
                op_timeout_s=30.0, header=HEADER):
    target = ScenarioTarget(scenario_file=scenario(tmp_path, body, header=header), workload_config=mock_config(),
                            scenario_config=ScenarioConfig(None), users=users, spawn_rate=spawn_rate)
    plan = Plan(target=target, procs=procs, cpus=(0,) * procs, max_inflight=users, duration_s=duration_s)
    rows = Rows(len(target.op_names))
    start = time.monotonic_ns()
    spec = {"n_ops": rows.n_ops, "max_secs": 30, "start_ns": start, "ramp_end_ns": start,
            "deadline_ns": start + int(duration_s * 1e9), "op_timeout_ns": int(op_timeout_s * 1e9)}
    session = target.open_worker(plan, index)
    try:
        out = session.run(rows.hist, rows.ts, rows.errors, stop if stop is not None else np.zeros(1, np.int64), spec)
    finally:
        session.close()
    return target, rows, out, (time.monotonic_ns() - start) / 1e9


def test_session_runs_weighted_tasks_and_counts_failures_by_type(tmp_path):
    target, rows, out, took = run_session(tmp_path, SESSION_SCENARIO)
    ops = target.op_names
    assert 1.0 <= took < 1.5
    uploads, gets, fails = rows.ops(ops.index("upload")), rows.ops(ops.index("download")), \
        rows.error_counts(ops.index("task:fail"))
    assert uploads == 3                                              # on_start, once per user
    assert rows.ops(ops.index("delete")) == 0                        # on_stop is not measured
    (code, n_failed), = fails.items()
    assert target.error_name(code) == "Bad"
    assert gets > 50 and 2 < gets / n_failed < 4.5                   # weights 3:1
    assert out["completed"] == uploads + gets + n_failed


def test_users_are_spread_over_workers_and_spawned_at_the_rate(tmp_path):
    body = """
        class Users(S3Workload):
            wait_time = constant(0.01)
            def on_start(self):
                self.client.upload(f"user-{self.user_id}", self.generate_data(self.user_id + 1))
            @task
            def t(self): pass
    """
    target, rows, _, _ = run_session(tmp_path, body, users=5, spawn_rate=2.0, duration_s=2.5, procs=2, index=1)
    upload = target.op_names.index("upload")
    assert rows.ops(upload) == 2                                     # users 1 and 3 of 0..4
    assert int(rows.ts.reshape(-1, rows.n_ops, TS_FIELDS)[:, upload, TsField.BYTES].sum()) == 2 + 4
    assert rows.first_second(upload) == 0                            # user 1 starts at 0.5 s, user 3 at 1.5 s
    assert int(rows.ts.reshape(-1, rows.n_ops, TS_FIELDS)[1, upload, TsField.OPS]) == 1


def test_stop_flag_ends_users_at_once(tmp_path):
    stop = np.zeros(1, np.int64)
    threading.Timer(0.3, lambda: stop.__setitem__(0, 1)).start()
    _, _, out, took = run_session(tmp_path, SESSION_SCENARIO.replace("constant(0.01)", "constant(30)"),
                                  duration_s=20, stop=stop)
    assert took < 1.0 and out["completed"] >= 3


def test_a_missing_scenario_parameter_fails_the_worker_with_its_message(tmp_path):
    body = """
        from chopsticks.workloads import get_scenario_value
        class Users(S3Workload):
            def on_start(self):
                self.size = get_scenario_value("mine", "size")
            @task
            def t(self): pass
    """
    with pytest.raises(ChopsticksError, match="'size' of 'mine' is not set"):
        run_session(tmp_path, body, duration_s=5)


def test_sys_exit_in_a_task_is_a_failed_task_and_the_user_goes_on(tmp_path):
    body = """
        import sys
        class Users(S3Workload):
            wait_time = constant(0.01)
            @task
            def quit(self):
                self.client.upload(self.generate_key("q"), self.generate_data(1))
                sys.exit(3)
    """
    target, rows, out, _ = run_session(tmp_path, body, users=2, duration_s=0.5)
    ops = target.op_names
    uploads = rows.ops(ops.index("upload"))
    (code, exits), = rows.error_counts(ops.index("task:quit")).items()
    assert target.error_name(code) == "SystemExit"
    assert uploads > 10 and exits in (uploads, uploads - 1, uploads - 2)   # every task failed; the users went on
    assert out["completed"] == uploads + exits


STUCK = """
    import time
    class Users(S3Workload):
        @task
        def stuck(self):
            self.client.upload(self.generate_key("s"), self.generate_data(1))
            time.sleep(3600)
"""


def test_a_task_stuck_past_the_op_timeout_is_stalled_and_left_behind(tmp_path):
    target, rows, out, took = run_session(tmp_path, STUCK, users=2, duration_s=1.0, op_timeout_s=0.5)
    ops = target.op_names
    assert 1.0 + 0.5 <= took < 1.0 + 0.5 + END_GRACE_NS / 1e9 + 0.5    # not the hour: deadline + op-timeout + grace
    assert rows.ops(ops.index("upload")) == 2
    task_slot = ops.index("task:stuck")
    assert rows.stalled(task_slot) == 2 and rows.stalled(ops.index("upload")) == 0   # the task, not its finished call
    assert max(rows.gauge(task_slot, TsField.STALLED)) == 2 and max(rows.gauge(task_slot, TsField.INFLIGHT)) == 2
    assert out["inflight_left"] == 2 and out["completed"] == 2


SLOW_CALLS = """
    class Users(S3Workload):
        @task
        def put(self):
            self.client.upload(self.generate_key("s"), self.generate_data(1))
"""


def test_a_call_stuck_past_the_op_timeout_counts_once_on_its_op(tmp_path):
    config = mock_config(latency_ms=60_000)                              # a gateway that stopped answering
    target = ScenarioTarget(scenario_file=scenario(tmp_path, SLOW_CALLS), workload_config=config,
                            scenario_config=ScenarioConfig(None), users=3, spawn_rate=100)
    plan = Plan(target=target, procs=1, cpus=(0,), max_inflight=3, duration_s=1.0)
    rows = Rows(len(target.op_names))
    start = time.monotonic_ns()
    spec = {"n_ops": rows.n_ops, "max_secs": 30, "start_ns": start, "ramp_end_ns": start,
            "deadline_ns": start + 10**9, "op_timeout_ns": 3 * 10**8}
    session = target.open_worker(plan, 0)
    out = session.run(rows.hist, rows.ts, rows.errors, np.zeros(1, np.int64), spec)
    session.close()
    took = (time.monotonic_ns() - start) / 1e9
    upload = target.op_names.index("upload")
    assert took < 1.0 + 0.3 + END_GRACE_NS / 1e9 + 0.5
    assert rows.stalled(upload) == 3 and rows.stalled(target.op_names.index("task:put")) == 0
    assert rows.ops(upload) == 0 and out["inflight_left"] == 3 and out["completed"] == 0


RECORDS_0X = """
    import datetime
    from chopsticks.metrics import OperationType
    class Users(S3Workload):
        wait_time = constant(0.01)
        def on_start(self):
            self.uploaded_keys.append(self.generate_key("r"))
            self.client.upload(self.uploaded_keys[0], self.generate_data(10))
        @task
        def checked_download(self):
            t0 = datetime.datetime.utcnow()
            data = self.client.download(self.uploaded_keys[0])
            # 0.x scenarios recorded each call again, a failed check twice: the client timed it already
            self._record_metric(operation_type=OperationType.DOWNLOAD, key=self.uploaded_keys[0], size_bytes=10,
                                start_time=t0, end_time=datetime.datetime.utcnow(), success=True)
            self._record_metric(operation_type=OperationType.DOWNLOAD, key=self.uploaded_keys[0], size_bytes=10,
                                start_time=t0, end_time=datetime.datetime.utcnow(), success=False,
                                error_code="SizeMismatch", error_msg="checked again")
        @task
        def timed_elsewhere(self):
            # something the client did not see: counted on its op's row, with its own duration
            self._record_metric(operation_type="head", key="k", size_bytes=0, start_time=100.0, end_time=100.25,
                                success=True)
            self._record_metric(operation_type=OperationType.DELETE, key="k", size_bytes=0, start_time=1.0,
                                end_time=1.5, success=False, error_code="Gone")
        @task
        def not_an_s3_op(self):
            self._record_metric(operation_type=OperationType.WRITE, key="k", size_bytes=1, start_time=0,
                                end_time=1, success=True)
"""


def test_record_metric_counts_only_what_the_client_did_not_see(tmp_path):
    target, rows, out, _ = run_session(tmp_path, RECORDS_0X, users=2, duration_s=0.5)
    ops = target.op_names
    downloads, heads = rows.ops(ops.index("download")), rows.ops(ops.index("head"))
    deletes = rows.error_counts(ops.index("delete"))
    assert downloads > 5 and rows.error_counts(ops.index("download")) == {}     # dropped: the client's call
    assert heads > 5 and deletes == {ERR_OTHER: pytest.approx(heads, abs=2)}
    hist = rows.hist.reshape(N_PHASES, rows.n_ops, NBUCKETS).sum(axis=0)[ops.index("head")]
    bucket = int(np.nonzero(hist)[0][0])
    from chopsticks.metrics.histogram import bucket_lower_bounds
    assert bucket_lower_bounds()[bucket] <= 250_000_000 < bucket_lower_bounds()[bucket + 1]   # its own duration
    assert rows.ops(ops.index("upload")) == 2 and out["completed"] == 2 + downloads + heads + sum(deletes.values())


# --- chopsticks 0.x names --------------------------------------------------------------------------

HEADER_0X = """from locust import task, between, constant, constant_pacing, tag, events
from chopsticks.workloads.s3.s3_workload import S3Workload
from chopsticks.utils.scenario_config import get_scenario_value
from chopsticks.metrics import OperationType, WorkloadType
"""


def test_a_0x_scenario_file_loads_with_chopsticks_names(tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, "locust", raising=False)
    path = scenario(tmp_path, """
        import locust
        @events.init.add_listener
        def on_init(environment, **kwargs):
            pass
        class Old(S3Workload):
            wait_time = between(1, 3)
            @task(3)
            @tag("write")
            def upload(self):
                events.request.fire(request_type="S3", name="upload", response_time=1, response_length=0,
                                    exception=None, context={})
        assert locust.constant(2)(None) == 2 and locust.constant_pacing is constant_pacing
    """, name="old_style.py", header=HEADER_0X)
    cls = load_workload(path)
    assert cls.__name__ == "Old" and tasks_of(cls)["upload"].task_weight == 3
    assert tasks_of(cls)["upload"].task_tags == {"write"}
    assert sys.modules["locust"].__name__ == "chopsticks.workloads.locust_names"
    assert events.with_listeners() == ["init"]
    assert compat_imports(path) == ["locust", "chopsticks.workloads.s3.s3_workload", "chopsticks.utils.scenario_config",
                                    "chopsticks.metrics.OperationType", "chopsticks.metrics.WorkloadType"]
    assert compat_imports(REPO / "scenarios" / "example_scenario.py") == []


def test_a_locust_name_chopsticks_lacks_is_a_one_line_error(tmp_path):
    with pytest.raises(ChopsticksError) as e:
        load_workload(scenario(tmp_path, "from locust import HttpUser\n", name="web_user.py"))
    message = str(e.value)
    assert message.endswith("web_user.py: ImportError: locust.HttpUser: chopsticks runs 0.x scenarios without Locust and "
                            "provides only User, between, constant, constant_pacing, events, tag, task (line 2)")


def test_operation_types_are_the_clients_op_names():
    assert {t.value for t in OperationType} == {*S3Client.op_names, *rbd_workload.RbdClient.op_names}
    assert OperationType.UPLOAD == "upload"


def test_0x_attributes_of_an_s3_user(tmp_path):
    activate(load_scenario_config(None))
    try:
        user = S3Workload(S3Client(S3Client.connect(mock_config()), None), 0, 1, PayloadPool(seed=1))
        assert user.uploaded_keys == [] and user.driver_name == "mock"
        assert user.config["bucket"] == user.bucket and user.config.get("nope", 5) == 5
        assert user.scenario_config["s3_large_objects"]["max_keys_in_memory"] == 10
    finally:
        activate(ScenarioConfig(None))


# --- the RBD workload config ---------------------------------------------------------------------

def test_rbd_config_from_file_with_lab_defaults(tmp_path, monkeypatch):
    class Lab:
        conf, keyring, client_id, pool, image = Path("/lab/ceph.conf"), Path("/lab/k"), "admin", "rbd", "test"
    monkeypatch.setattr("chopsticks.lab.find_running", lambda: Lab)
    monkeypatch.delenv("RBD_CONFIG_PATH", raising=False)
    path = tmp_path / "rbd.yaml"
    path.write_text("pool: fast\nimage: vm1\n")
    config = rbd_workload.load_rbd_config(path)
    assert (config.conf, config.keyring, config.pool, config.image) == ("/lab/ceph.conf", "/lab/k", "fast", "vm1")
    assert rbd_workload.load_rbd_config(None).image == "test"


def test_rbd_config_errors(tmp_path, monkeypatch):
    monkeypatch.setattr("chopsticks.lab.find_running", lambda: None)
    monkeypatch.delenv("RBD_CONFIG_PATH", raising=False)
    with pytest.raises(ChopsticksError, match="no RBD workload config"):
        rbd_workload.load_rbd_config(None)
    path = tmp_path / "rbd.yaml"
    path.write_text("pool: fast\n")
    with pytest.raises(ChopsticksError, match="missing key 'conf'"):
        rbd_workload.load_rbd_config(path)
    path.write_text("conf: /c\nsize: 3\n")
    with pytest.raises(ChopsticksError, match="unknown key 'size'"):
        rbd_workload.load_rbd_config(path)
    path.write_text("conf: /c\npool: 3\n")
    with pytest.raises(ChopsticksError, match="'pool' must be a non-empty string"):
        rbd_workload.load_rbd_config(path)


def test_rbd_client_records_bytes_and_errno_names(lab):
    config = rbd_workload.RbdWorkloadConfig(conf=str(lab.conf), keyring=str(lab.keyring), pool=lab.pool,
                                            image=lab.image)
    conn = rbd_workload.RbdClient.connect(config)
    try:
        rec = Recorder()
        client = rbd_workload.RbdClient(conn, rec)
        assert client.size == lab.image_size
        assert client.write(8192, b"\x5a" * 4096)
        assert client.read(8192, 4096) == b"\x5a" * 4096
        assert client.write(client.size, b"x" * 4096) is False          # past the end of the image
        assert rec.oks == [(1, 4096), (0, 4096)]
        (op, code), = rec.errors
        assert op == 1 and rbd_workload.RbdClient.error_name(code) == "EINVAL"
    finally:
        rbd_workload.RbdClient.disconnect(conn)


def test_rbd_missing_pool_is_named(lab):
    config = rbd_workload.RbdWorkloadConfig(conf=str(lab.conf), keyring=str(lab.keyring), pool="no-such-pool")
    with pytest.raises(ChopsticksError, match="pool 'no-such-pool' does not exist"):
        rbd_workload.RbdClient.prepare(config)
