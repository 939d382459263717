"""backends.threads.ThreadedCalls: the innermost activity is what stalls, once; gauges every ~100 ms;
finish() is bounded by stop + op-timeout + grace, and a thread left behind records nothing after."""
import threading
import time

import numpy as np

from chopsticks.backends.threads import END_GRACE_NS, ThreadedCalls

MS = 1_000_000
TASK, CALL = 0, 1


class FakeRecorder:
    """The SlotRecorder calls, as a list."""

    def __init__(self):
        self.events = []

    def ok(self, op, lat_ns, nbytes, end_ns):
        self.events.append(("ok", op))

    def error(self, op, code, end_ns):
        self.events.append(("error", op))

    def stall(self, op, now_ns):
        self.events.append(("stall", op))

    def gauges(self, op, inflight, stalled, now_ns):
        self.events.append(("gauges", op, inflight, stalled))

    def drain(self, now_ns):
        self.events.append(("drain",))

    def count(self, kind, op=None):
        return sum(1 for e in self.events if e[0] == kind and (op is None or e[1] == op))


def calls(rec, deadline_ms=10_000, op_timeout_ms=200):
    now = time.monotonic_ns()
    return ThreadedCalls(rec, {"n_ops": 2, "deadline_ns": now + deadline_ms * MS, "op_timeout_ns": op_timeout_ms * MS},
                         np.zeros(1, np.int64))


def test_only_the_innermost_activity_stalls_and_a_task_ages_from_its_last_call():
    rec = FakeRecorder()
    c = calls(rec)

    def user():
        task = c.begin(TASK)
        call = c.begin(CALL)
        time.sleep(0.35)                # the call stalls, the task under it does not
        c.ok(call, 10)
        time.sleep(0.1)                 # less than op-timeout since the call ended: the task is fine
        c.end(task)

    c.start(user, name="u")
    c.wait_until(time.monotonic_ns() + 600 * MS)
    assert rec.count("stall", CALL) == 1 and rec.count("stall", TASK) == 0 and rec.count("ok", CALL) == 1
    assert ("gauges", CALL, 1, 1) in rec.events and ("gauges", TASK, 1, 0) in rec.events
    assert c.finish() == 0 and rec.count("drain") == 1


def test_finish_gives_up_on_a_stuck_thread_which_then_records_nothing():
    rec = FakeRecorder()
    c = calls(rec, deadline_ms=100, op_timeout_ms=200)
    release = threading.Event()

    def user():
        call = c.begin(CALL)
        release.wait()
        c.ok(call, 1)

    c.start(user, name="u")
    assert c.wait_until(c.deadline_ns + 10**9) is False          # the deadline ends the wait
    t0 = time.monotonic_ns()
    assert c.finish() == 1
    assert (time.monotonic_ns() - c.stop_ns) < 200 * MS + END_GRACE_NS + 100 * MS
    assert time.monotonic_ns() - t0 >= 200 * MS                   # it did wait op-timeout for the call
    assert rec.count("stall", CALL) == 1 and c.abandoned() == 1
    release.set()
    c.threads[0].join(1)
    assert rec.count("ok") == 0 and c.recorded == 0               # cut off: shared memory is never touched again


def test_in_rate_mode_its_threads_timed_waits_end_without_slack():
    """A rate-mode thread waits for each intended start: with Linux's default timer slack (50 µs)
    every call started that much late; its threads run with 1 ns, a closed loop's keep what they inherit."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_get_timerslack = 30
    slack = {}
    for mode, extra in (("rate", {"rate": 100.0, "n_target_ops": 1}), ("closed", {})):
        now = time.monotonic_ns()
        c = ThreadedCalls(FakeRecorder(), {"n_ops": 2, "deadline_ns": now + 10_000 * MS, "op_timeout_ns": 0, **extra},
                          np.zeros(1, dtype=np.int64))
        c.start(lambda: slack.setdefault(mode, libc.prctl(pr_get_timerslack, 0, 0, 0, 0)), name=mode)
        c.threads[-1].join(5)
    inherited = libc.prctl(pr_get_timerslack, 0, 0, 0, 0)     # a new thread's, from this one (50 µs by default)
    assert inherited > 1 and slack == {"rate": 1, "closed": inherited}
