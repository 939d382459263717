"""The scenario API (task weights, wait times, payloads, scenario parameters, loading a scenario
file, the timed clients) and the scenario session run in-process with the mock S3 driver."""
import random
import textwrap
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from chopsticks.backends.scenario import EXCEPTION_CODE_BASE, ScenarioTarget
from chopsticks.config import S3Config
from chopsticks.drivers.s3.base import ERROR_KINDS
from chopsticks.engine.shm import ERR_CODES, N_PHASES, NBUCKETS, TS_FIELDS, TsField
from chopsticks.errors import ChopsticksError
from chopsticks.plan import Plan
from chopsticks.workloads import S3Workload, between, constant, constant_pacing, get_scenario_value, task
from chopsticks.workloads import rbd as rbd_workload
from chopsticks.workloads.base import PayloadPool, tasks_of
from chopsticks.workloads.loader import BUILTIN_EXCEPTIONS, exception_names, load_workload
from chopsticks.workloads.s3 import S3Client
from chopsticks.workloads.scenario_config import ScenarioConfig, activate, default_path, load_scenario_config

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
    monkeypatch.chdir(tmp_path)
    assert default_path(REPO / "scenarios" / "s3_large_objects.py") == REPO / "config" / "scenario_config_default.yaml"
    assert default_path(tmp_path / "x.py") is None
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "scenario_config_default.yaml").write_text("a: {}\n")
    assert default_path(REPO / "scenarios" / "s3_large_objects.py") == Path("config/scenario_config_default.yaml")


def test_shipped_default_config_keeps_the_0x_keys():
    values = load_scenario_config(REPO / "config" / "scenario_config_default.yaml").values
    assert values["s3_large_objects"]["max_keys_in_memory"] == 10
    assert 1 <= values["s3_large_objects"]["object_size_mb"] <= 4


# --- loading a scenario file ---------------------------------------------------------------------

HEADER = "from chopsticks.workloads import S3Workload, RBDWorkload, Workload, task, constant\n"


def scenario(tmp_path, body: str, name: str = "scn.py") -> str:
    path = tmp_path / name
    path.write_text(HEADER + textwrap.dedent(body))
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
    def __init__(self):
        self.oks, self.errors = [], []

    def ok(self, op, lat_ns, nbytes, end_ns):
        assert 0 < lat_ns < 10**9 and end_ns > 0
        self.oks.append((op, nbytes))

    def error(self, op, code, end_ns):
        self.errors.append((op, code))


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
    assert client.calls == 7
    client.recorder = None                                            # on_stop: not measured
    client.upload("k/2", b"y")
    assert client.calls == 7 and len(rec.oks) == 6


def test_scenario_error_names():
    target = ScenarioTarget(scenario_file=str(REPO / "scenarios" / "s3_small_objects.py"), workload_config=None,
                            scenario_config=load_scenario_config(REPO / "config" / "scenario_config_default.yaml"),
                            users=1, spawn_rate=1)
    assert target.op_names == ("upload", "download", "delete", "list", "head", "on_start", "task:upload",
                               "task:download", "task:head")
    assert target.error_name(ERROR_KINDS.index("auth") + 1) == "auth"
    assert target.error_name(EXCEPTION_CODE_BASE + BUILTIN_EXCEPTIONS.index("KeyError")) == "KeyError"


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


def run_session(tmp_path, body, users=3, spawn_rate=100.0, duration_s=1.0, procs=1, index=0, stop=None):
    target = ScenarioTarget(scenario_file=scenario(tmp_path, body), workload_config=mock_config(),
                            scenario_config=ScenarioConfig(None), users=users, spawn_rate=spawn_rate)
    plan = Plan(target=target, procs=procs, cpus=(0,) * procs, iodepth=users, duration_s=duration_s)
    rows = Rows(len(target.op_names))
    start = time.monotonic_ns()
    spec = {"n_ops": rows.n_ops, "max_secs": 30, "start_ns": start, "ramp_end_ns": start,
            "deadline_ns": start + int(duration_s * 1e9)}
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
