"""Scenario mode (`chopsticks run`): simulated users, each a thread running its own instance of a
scenario class, spread over the worker processes (user i → worker i % procs), started at the
spawn rate and recorded into the same shared memory as every backend. This path makes Python
calls per op, by design: the scenario is Python.

Op slots, fixed before the workers start: the client's ops (upload, download, delete, list, head
for S3; read, write for RBD) record every call; `on_start` and one `task:<name>` per task record
only failures (a raised exception, SystemExit included, counted under its type's name) and
stalls, so the `all` row's ops are client calls and its errors are failed calls plus failed
tasks. A user stuck past --op-timeout (in a client call, or in a task between calls) is counted
as stalled on that call's or task's row and, once the run is over, left behind
(backends/threads.py)."""
from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

from chopsticks._fast.histogram import SlotRecorder
from chopsticks.backends.threads import ThreadedCalls
from chopsticks.engine.contract import ERR_OTHER
from chopsticks.errors import ChopsticksError
from chopsticks.workloads.base import PayloadPool, Workload, tasks_of
from chopsticks.workloads.loader import exception_names, load_workload
from chopsticks.workloads.scenario_config import ScenarioConfig, activate

EXCEPTION_CODE_BASE = 512       # a task failure's code: this + the index of its type's name; client codes stay below
ON_START = "on_start"
TASK_PREFIX = "task:"

log = logging.getLogger("chopsticks.scenario")


def scenario_ops(cls: type[Workload], tags: tuple[str, ...] = (), exclude_tags: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The op slots of a scenario class: its client's ops, on_start, then one per task run."""
    return (*cls.client_class.op_names, ON_START,
            *(TASK_PREFIX + name for name in tasks_of(cls, tags, exclude_tags)))


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
    tags: tuple[str, ...] = ()          # --tags: only tasks carrying one of these
    exclude_tags: tuple[str, ...] = ()  # --exclude-tags: no task carrying one of these
    name = "scenario"
    derived_ops: ClassVar[tuple[str, ...]] = ()
    bytes_per_op = 1                    # unused: `chopsticks run` has no --io-total

    def __post_init__(self):
        if not self.tasks:
            cls = self.workload
            used = sorted({t for fn in tasks_of(cls).values() for t in getattr(fn, "task_tags", ())})
            raise ChopsticksError(f"no task of {cls.__name__} is left to run with --tags {','.join(self.tags) or '-'} "
                                  f"--exclude-tags {','.join(self.exclude_tags) or '-'} (its tags: "
                                  f"{', '.join(used) or 'none'})")

    @property
    def workload(self) -> type[Workload]:
        return scenario_class(self.scenario_file, self.scenario_config)

    @property
    def tasks(self) -> dict[str, Callable]:
        """The tasks this run's users pick from (after --tags/--exclude-tags)."""
        return tasks_of(self.workload, self.tags, self.exclude_tags)

    @property
    def op_names(self) -> tuple[str, ...]:
        return scenario_ops(self.workload, self.tags, self.exclude_tags)

    def prepare(self, plan) -> dict:
        cls = self.workload
        return {"scenario": cls.__name__, **cls.client_class.prepare(self.workload_config)}

    def open_worker(self, plan, index: int) -> ScenarioSession:
        return ScenarioSession(self, plan, index)

    def error_name(self, code: int) -> str:
        names = exception_names(self.workload)
        if EXCEPTION_CODE_BASE <= code < EXCEPTION_CODE_BASE + len(names):
            return names[code - EXCEPTION_CODE_BASE]
        return self.workload.client_class.error_name(code)

    def settings(self) -> dict:
        cls = self.workload
        return {"backend": self.name, "scenario_file": self.scenario_file, "scenario_class": cls.__name__,
                "tasks": {name: fn.task_weight for name, fn in self.tasks.items()},
                "tags": list(self.tags), "exclude_tags": list(self.exclude_tags),
                "users": self.users, "spawn_rate": self.spawn_rate,
                "workload_config": self.workload_config.redacted(), "scenario_config": self.scenario_config.path}


class ScenarioSession:
    """One worker's users: started one by one at their spawn time, each looping over weighted
    tasks until the deadline, a Ctrl+C or a configuration error, then running on_stop."""

    def __init__(self, target: ScenarioTarget, plan, index: int):
        self.target, self.cls, self.plan, self.index = target, target.workload, plan, index
        self.op_names = target.op_names
        self.tasks = list(target.tasks.values())
        self.weights = [fn.task_weight for fn in self.tasks]
        self.on_start_slot = self.op_names.index(ON_START)     # the tasks' slots follow it
        self.codes = {name: min(EXCEPTION_CODE_BASE + i, ERR_OTHER) for i, name in enumerate(exception_names(self.cls))}
        self.user_ids = range(index, target.users, plan.workers_total)
        self.payloads = PayloadPool(seed=plan.worker_seed(index))
        self.calls: ThreadedCalls | None = None
        self.fatal: ChopsticksError | None = None
        self.logged: set[tuple[str, str]] = set()
        self.handle = self.cls.client_class.connect(target.workload_config)

    def run(self, hist, ts, errors, stop, spec: dict) -> dict:
        calls = self.calls = ThreadedCalls(SlotRecorder(hist, ts, errors, spec), spec, stop)
        for uid in self.user_ids:
            if not calls.wait_until(spec["start_ns"] + int(uid * 1e9 / self.target.spawn_rate)):
                break
            calls.start(self._user, uid, calls, name=f"user-{uid}")
        else:
            calls.wait_until(spec["deadline_ns"], or_all_done=True)
        left = calls.finish()
        in_stop = calls.abandoned() - left
        if in_stop > 0:
            log.warning("%d user(s) still in on_stop --op-timeout after the end of the run: left unfinished, what "
                        "they were cleaning up may remain", in_stop)
        if self.fatal is not None:
            raise self.fatal
        return {"submitted": calls.recorded + left, "completed": calls.recorded, "inflight_left": left,
                "fatal_errno": 0}

    def _user(self, uid: int, calls: ThreadedCalls) -> None:
        """One simulated user: on_start, weighted tasks with wait_time pauses, on_stop (unmeasured)."""
        client = None
        try:
            client = self.cls.client_class(self.handle, calls)
            user = self.cls(client, uid, self.plan.worker_seed(self.index, uid), self.payloads)
            if not self._call(type(user).on_start, user, self.on_start_slot, calls):
                return
            while calls.live():
                i = user.random.choices(range(len(self.tasks)), self.weights)[0]
                user.task_started = time.monotonic()
                self._call(self.tasks[i], user, self.on_start_slot + 1 + i, calls)
                calls.pause(user.wait_time())
            client.recorder = None
            try:
                user.on_stop()
            except (Exception, SystemExit) as e:
                self._log_once("on_stop", e)
        except (Exception, SystemExit) as e:     # the client or the user could not be made, or wait_time failed
            self._stop_worker(e)
        finally:
            if client is not None:
                client.close()

    def _call(self, fn: Callable, user: Workload, slot: int, calls: ThreadedCalls) -> bool:
        """Run on_start or a task as an activity of `slot`; an exception it raises (SystemExit
        too: sys.exit() in a task is a failed task, not a silent end of the user) is recorded on
        `slot` under its type's name."""
        user.client.task_ops.clear()
        activity = calls.begin(slot)
        try:
            fn(user)
            calls.end(activity)
            return True
        except ChopsticksError as e:
            calls.end(activity)
            self._stop_worker(e)
        except (Exception, SystemExit) as e:
            calls.error(activity, self._code(e))
            self._log_once(self.op_names[slot], e)
        return False

    def _code(self, e: BaseException) -> int:
        """The code of the nearest type of `e` whose name is in the table (Exception always is)."""
        return next((self.codes[k.__name__] for k in type(e).__mro__ if k.__name__ in self.codes), ERR_OTHER)

    def _stop_worker(self, e: BaseException) -> None:
        """A configuration mistake (missing scenario parameter, ...): stop this worker's users and
        fail the worker with the message, rather than count the same error from every user."""
        if self.fatal is None:
            self.fatal = e if isinstance(e, ChopsticksError) else ChopsticksError(f"{type(e).__name__}: {e}")
        if self.calls is not None:
            self.calls.halt.set()

    def _log_once(self, where: str, e: BaseException) -> None:
        """One line per (op, exception type) and worker, so a scenario bug is visible but not flooding."""
        if (where, type(e).__name__) in self.logged:
            return
        self.logged.add((where, type(e).__name__))
        line = next((f.lineno for f in reversed(traceback.extract_tb(e.__traceback__))
                     if f.filename == self.target.scenario_file), None)
        log.warning("%s raised %s%s: %s (further ones are counted, not logged)", where, type(e).__name__,
                    f" at line {line}" if line else "", e)

    def close(self) -> None:
        """Release the worker's connection, unless a user left behind may still be using it."""
        if self.calls is None or not self.calls.abandoned():
            self.cls.client_class.disconnect(self.handle)
