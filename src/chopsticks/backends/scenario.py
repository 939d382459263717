"""Scenario mode (`chopsticks run`): simulated users, each a thread running its own instance of a
scenario class, spread over the worker processes (user i → worker i % procs), started at the
spawn rate and recorded into the same shared memory as every backend. This path makes Python
calls per op, by design: the scenario is Python.

Op slots, fixed before the workers start: the client's ops (upload, download, delete, list, head
for S3; read, write for RBD) record every call; `on_start` and one `task:<name>` per task record
only failures (a raised exception, counted under its type's name), so the `all` row's ops are
client calls and its errors are failed calls plus failed tasks."""
from __future__ import annotations

import logging
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

from chopsticks._fast.histogram import SlotRecorder
from chopsticks.engine.contract import ERR_OTHER
from chopsticks.errors import ChopsticksError
from chopsticks.workloads.base import PayloadPool, Workload, tasks_of
from chopsticks.workloads.loader import exception_names, load_workload
from chopsticks.workloads.scenario_config import ScenarioConfig, activate

EXCEPTION_CODE_BASE = 512       # a task failure's code: this + the index of its type's name; client codes stay below
ON_START = "on_start"
TASK_PREFIX = "task:"
WATCH_SLICE_NS = 50_000_000     # how soon a Ctrl+C reaches the users

log = logging.getLogger("chopsticks.scenario")


def scenario_ops(cls: type[Workload]) -> tuple[str, ...]:
    """The op slots of a scenario class: its client's ops, on_start, then one per task."""
    return (*cls.client_class.op_names, ON_START, *(TASK_PREFIX + name for name in tasks_of(cls)))


def scenario_class(path: str, config: ScenarioConfig) -> type[Workload]:
    """The scenario file's workload class, imported once per process with `config` in effect
    (module-level get_scenario_value() calls run at import)."""
    activate(config)
    return load_workload(path)


@dataclass(frozen=True)
class ScenarioTarget:
    scenario_file: str                  # absolute path; every worker imports it again
    workload_config: Any                # what the class's client connects with (S3Config, RbdWorkloadConfig)
    scenario_config: ScenarioConfig
    users: int
    spawn_rate: float                   # users started per second, over all workers
    name = "scenario"
    derived_ops: ClassVar[tuple[str, ...]] = ()
    bytes_per_op = 1                    # unused: `chopsticks run` has no --io-total

    @property
    def workload(self) -> type[Workload]:
        return scenario_class(self.scenario_file, self.scenario_config)

    @property
    def op_names(self) -> tuple[str, ...]:
        return scenario_ops(self.workload)

    def prepare(self, plan) -> dict:
        cls = self.workload
        return {"scenario": cls.__name__, **cls.client_class.prepare(self.workload_config)}

    def open_worker(self, plan, index: int) -> ScenarioSession:
        return ScenarioSession(self, plan, index)

    def error_name(self, code: int) -> str:
        names = exception_names(self.workload)
        if EXCEPTION_CODE_BASE <= code < EXCEPTION_CODE_BASE + len(names):
            return names[code - EXCEPTION_CODE_BASE]
        return "other" if code == ERR_OTHER else self.workload.client_class.error_name(code)

    def settings(self) -> dict:
        cls = self.workload
        return {"backend": self.name, "scenario_file": self.scenario_file, "scenario_class": cls.__name__,
                "tasks": {name: fn.task_weight for name, fn in tasks_of(cls).items()},
                "users": self.users, "spawn_rate": self.spawn_rate,
                "workload_config": self.workload_config.redacted(), "scenario_config": self.scenario_config.path}


class ScenarioSession:
    """One worker's users: started one by one at their spawn time, each looping over weighted
    tasks until the deadline, a Ctrl+C or a configuration error, then running on_stop."""

    def __init__(self, target: ScenarioTarget, plan, index: int):
        self.target, self.cls, self.seed = target, target.workload, plan.seed
        self.op_names = target.op_names
        self.tasks = list(tasks_of(self.cls).values())
        self.weights = [fn.task_weight for fn in self.tasks]
        self.on_start_slot = self.op_names.index(ON_START)     # the tasks' slots follow it
        self.codes = {name: min(EXCEPTION_CODE_BASE + i, ERR_OTHER) for i, name in enumerate(exception_names(self.cls))}
        self.user_ids = range(index, target.users, plan.workers_total)
        self.payloads = PayloadPool(seed=plan.seed * 7919 + index)
        self.halt = threading.Event()
        self.fatal: ChopsticksError | None = None
        self.logged: set[tuple[str, str]] = set()
        self.recorded = {uid: 0 for uid in self.user_ids}   # each entry written by its user's thread only
        self.deadline_ns = 0
        self.handle = self.cls.client_class.connect(target.workload_config)

    def run(self, hist, ts, errors, stop, spec: dict) -> dict:
        rec = SlotRecorder(hist, ts, errors, spec)
        self.deadline_ns = spec["deadline_ns"]
        threads = []
        for uid in self.user_ids:
            if not self._watch_until(spec["start_ns"] + int(uid * 1e9 / self.target.spawn_rate), stop):
                break
            threads.append(threading.Thread(target=self._user, args=(uid, rec), name=f"user-{uid}"))
            threads[-1].start()
        self._watch_until(self.deadline_ns, stop)
        self.halt.set()
        for t in threads:
            t.join()
        if self.fatal is not None:
            raise self.fatal
        done = sum(self.recorded.values())
        return {"submitted": done, "completed": done, "inflight_left": 0, "fatal_errno": 0}

    def _watch_until(self, when_ns: int, stop) -> bool:
        """Wait until `when_ns`, passing a Ctrl+C (stop[0]) on to the users; False if the run ends first."""
        while not stop[0] and not self.halt.is_set():
            now = time.monotonic_ns()
            if now >= self.deadline_ns:
                return False
            if now >= when_ns:
                return True
            self.halt.wait(min(when_ns - now, self.deadline_ns - now, WATCH_SLICE_NS) / 1e9)
        self.halt.set()
        return False

    def _live(self) -> bool:
        return not self.halt.is_set() and time.monotonic_ns() < self.deadline_ns

    def _pause(self, seconds: float) -> None:
        self.halt.wait(max(0.0, min(seconds, (self.deadline_ns - time.monotonic_ns()) / 1e9)))

    def _user(self, uid: int, rec: SlotRecorder) -> None:
        """One simulated user: on_start, weighted tasks with wait_time pauses, on_stop (unmeasured)."""
        client = None
        try:
            client = self.cls.client_class(self.handle, rec)
            user = self.cls(client, uid, self.seed * 1_000_003 + uid, self.payloads)
            if not self._call(type(user).on_start, user, uid, self.on_start_slot, rec):
                return
            while self._live():
                i = user.random.choices(range(len(self.tasks)), self.weights)[0]
                user.task_started = time.monotonic()
                self._call(self.tasks[i], user, uid, self.on_start_slot + 1 + i, rec)
                self._pause(user.wait_time())
            client.recorder = None
            try:
                user.on_stop()
            except Exception as e:
                self._log_once("on_stop", e)
        except Exception as e:     # the client or the user could not be made, or wait_time failed
            self._stop_worker(e)
        finally:
            if client is not None:
                client.close()
                self.recorded[uid] += client.calls

    def _call(self, fn: Callable, user: Workload, uid: int, slot: int, rec: SlotRecorder) -> bool:
        """Run on_start or a task; an exception it raises is recorded on `slot` under its type's name."""
        try:
            fn(user)
            return True
        except ChopsticksError as e:
            self._stop_worker(e)
        except Exception as e:
            rec.error(slot, self._code(e), time.monotonic_ns())
            self.recorded[uid] += 1
            self._log_once(self.op_names[slot], e)
        return False

    def _code(self, e: Exception) -> int:
        """The code of the nearest type of `e` whose name is in the table (Exception always is)."""
        return next((self.codes[k.__name__] for k in type(e).__mro__ if k.__name__ in self.codes), ERR_OTHER)

    def _stop_worker(self, e: Exception) -> None:
        """A configuration mistake (missing scenario parameter, ...): stop this worker's users and
        fail the worker with the message, rather than count the same error from every user."""
        if self.fatal is None:
            self.fatal = e if isinstance(e, ChopsticksError) else ChopsticksError(f"{type(e).__name__}: {e}")
        self.halt.set()

    def _log_once(self, where: str, e: Exception) -> None:
        """One line per (op, exception type) and worker, so a scenario bug is visible but not flooding."""
        if (where, type(e).__name__) in self.logged:
            return
        self.logged.add((where, type(e).__name__))
        line = next((f.lineno for f in reversed(traceback.extract_tb(e.__traceback__))
                     if f.filename == self.target.scenario_file), None)
        log.warning("%s raised %s%s: %s (further ones are counted, not logged)", where, type(e).__name__,
                    f" at line {line}" if line else "", e)

    def close(self) -> None:
        self.cls.client_class.disconnect(self.handle)
