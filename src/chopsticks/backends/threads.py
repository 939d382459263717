"""Python threads making blocking calls in one worker (Python S3 drivers, scenario users): what
each thread is in the middle of, so that calls older than --op-timeout are counted as stalled
and the in-flight gauges are sampled, and an end that does not wait for a stuck thread.

The end of a run on this path: at the deadline or the stop, no thread starts another call
(`live()` turns false) and completions count as drain. Calls in flight may finish until
stop + op-timeout + END_GRACE_NS; whatever is still in flight then has been counted as stalled
(once), and its thread, a daemon, is left behind, cut off from the recorder so that it can never
write into shared memory again. The engine kills a worker at stop + op-timeout + 5 s
(engine.pool.DRAIN_GRACE_S): a session's close() finishes by `close_by_ns()`, before that.

What a thread is in the middle of is a stack: a scenario user's task, and inside it a client
call. Only the innermost counts (in flight, and stalled when older than --op-timeout), so a user
stuck in a call is one stalled call, and a task stuck between calls (a sleep, a loop) is one
stalled task; an activity's age runs from its start or from the end of its last inner call."""
from __future__ import annotations

import functools
import threading
import time
from typing import Callable

from chopsticks._fast.schedule import precise_timed_waits

SAMPLE_NS = 100_000_000             # in-flight gauges and the stall check, as the compiled loops do
END_GRACE_NS = 500_000_000          # after stop + op-timeout, before giving up on calls in flight
CLOSE_GRACE_NS = 3_000_000_000      # close() (cleanup) ends by stop + op-timeout + this, < DRAIN_GRACE_S


def _with_precise_timed_waits(target: Callable, *args) -> None:
    precise_timed_waits()
    target(*args)


class Activity:
    """A call or a task in flight on one thread; start_ns is its intended start in rate mode
    (perhaps in the past), else when it began."""

    __slots__ = ("op", "start_ns", "submit_ns", "since_ns", "stalled")

    def __init__(self, op: int, now_ns: int, intended_ns: int | None = None):
        self.op, self.submit_ns, self.since_ns, self.stalled = op, now_ns, now_ns, False
        self.start_ns = now_ns if intended_ns is None else intended_ns


class ThreadedCalls:
    """One worker's threads and their calls, recorded through a SlotRecorder. Every method that
    records may be called from any thread; after finish() they record nothing."""

    def __init__(self, rec, spec: dict, stop):
        self._rec = rec
        self._lock = threading.Lock()
        self._stacks: dict[int, list[Activity]] = {}
        self.n_ops, self.stop = spec["n_ops"], stop
        # Rate mode: <op>.service after the target's slots, then schedule.lag (_fast/engine.pxd).
        self.n_target_ops = spec.get("n_target_ops", self.n_ops) if spec.get("rate") else 0
        self.deadline_ns, self.op_timeout_ns = spec["deadline_ns"], spec["op_timeout_ns"]
        self.halt = threading.Event()       # set when submission stops (deadline, stop, a fatal error)
        self.stop_ns = 0                    # when submission stopped
        self.recorded = 0                   # completions recorded (ok or error)
        self.threads: list[threading.Thread] = []
        self._next_sample_ns = 0

    # --- for the threads ------------------------------------------------------------------------

    def live(self) -> bool:
        """Whether a thread may start another call or task."""
        return not self.halt.is_set() and time.monotonic_ns() < self.deadline_ns

    def pause(self, seconds: float) -> None:
        """Sleep `seconds`, or less if the run ends first."""
        self.halt.wait(max(0.0, min(seconds, (self.deadline_ns - time.monotonic_ns()) / 1e9)))

    def begin(self, op: int, intended_ns: int | None = None) -> Activity:
        """A call (or task) starts now; in rate mode, one that should have started at intended_ns."""
        activity = Activity(op, time.monotonic_ns(), intended_ns)
        with self._lock:
            self._stacks.setdefault(threading.get_ident(), []).append(activity)
        return activity

    def end(self, activity: Activity) -> int:
        """The activity is over (nothing recorded); returns the time it ended."""
        now = time.monotonic_ns()
        with self._lock:
            self._pop(activity, now)
        return now

    def ok(self, activity: Activity, nbytes: int, ended_ns: int | None = None) -> None:
        """The call succeeded; it ended at ended_ns if given (work after it, e.g. a check, is not timed)."""
        now = ended_ns or time.monotonic_ns()
        with self._lock:
            self._pop(activity, now)
            if self._rec is not None:
                self._rec.ok(activity.op, now - activity.start_ns, nbytes, now)
                self._record_schedule(activity, now, ok=True)
                self.recorded += 1

    def error(self, activity: Activity, code: int, ended_ns: int | None = None) -> None:
        now = ended_ns or time.monotonic_ns()
        with self._lock:
            self._pop(activity, now)
            if self._rec is not None:
                self._rec.error(activity.op, code, now)
                self._record_schedule(activity, now, ok=False)
                self.recorded += 1

    def _record_schedule(self, activity: Activity, now: int, ok: bool) -> None:
        """Rate mode: a call's service time (from its submit) and its schedule lag."""
        if self.n_target_ops:
            if ok:
                self._rec.ok(self.n_target_ops + activity.op, now - activity.submit_ns, 0, now)
            self._rec.ok(2 * self.n_target_ops, max(0, activity.submit_ns - activity.start_ns), 0, now)

    def record(self, op: int, ok: bool, lat_ns: int, nbytes: int, code: int) -> None:
        """A completion timed by the caller, not by begin(): recorded as ending now."""
        now = time.monotonic_ns()
        with self._lock:
            if self._rec is not None:
                if ok:
                    self._rec.ok(op, lat_ns, nbytes, now)
                else:
                    self._rec.error(op, code, now)
                self.recorded += 1

    def _pop(self, activity: Activity, now: int) -> None:
        """Take `activity` off its thread's stack, with any inner one that never ended (a call
        that raised out of its client)."""
        stack = self._stacks.get(threading.get_ident())
        if not stack or activity not in stack:
            return
        del stack[stack.index(activity):]
        if stack:
            stack[-1].since_ns = now            # the enclosing task made progress
        else:
            del self._stacks[threading.get_ident()]

    # --- for the session's main thread ----------------------------------------------------------

    def start(self, target: Callable, *args, name: str) -> None:
        if self.n_target_ops:               # rate mode: the thread waits for intended starts
            target = functools.partial(_with_precise_timed_waits, target)
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self.threads.append(thread)
        thread.start()

    def wait_until(self, when_ns: int, or_all_done: bool = False) -> bool:
        """Sample every ~100 ms until `when_ns`; False once the run is over (deadline, stop flag,
        halt, or with `or_all_done` every thread finished), and submission then stops."""
        while True:
            now = time.monotonic_ns()
            if self.stop[0] or now >= self.deadline_ns or self.halt.is_set() or (
                    or_all_done and not any(t.is_alive() for t in self.threads)):
                self._stop_submitting(now)
                return False
            if now >= when_ns:
                return True
            self._sample_if_due(now)
            self.halt.wait(max(0, min(when_ns, self.deadline_ns, self._next_sample_ns) - now) / 1e9)

    def finish(self) -> int:
        """Stop submitting, wait for the calls in flight until stop + op-timeout + END_GRACE_NS,
        then count the ones left as stalled and cut their threads off. Returns how many calls or
        tasks were left in flight."""
        self._stop_submitting(time.monotonic_ns())
        end_by = self.stop_ns + self.op_timeout_ns + END_GRACE_NS
        for thread in self.threads:
            while thread.is_alive():
                now = time.monotonic_ns()
                if now >= end_by:
                    break
                self._sample_if_due(now)
                thread.join(max(0, min(end_by, self._next_sample_ns) - now) / 1e9)
        with self._lock:
            now = time.monotonic_ns()
            left = [stack[-1] for stack in self._stacks.values() if stack]
            for activity in left:
                if not activity.stalled and self._rec is not None:
                    activity.stalled = True
                    self._rec.stall(activity.op, now)
            self._sample(now)
            self._rec = None
        return len(left)

    def close_by_ns(self) -> int:
        """When a session's close() must be done (from the stop, or from now if never started)."""
        return (self.stop_ns or time.monotonic_ns()) + self.op_timeout_ns + CLOSE_GRACE_NS

    def abandoned(self) -> int:
        """Threads still running after finish(): stuck, left behind."""
        return sum(t.is_alive() for t in self.threads)

    def _stop_submitting(self, now: int) -> None:
        with self._lock:
            if not self.stop_ns:
                self.stop_ns = now
                if self._rec is not None:
                    self._rec.drain(now)
        self.halt.set()

    def _sample_if_due(self, now: int) -> None:
        if now >= self._next_sample_ns:
            self._next_sample_ns = now + SAMPLE_NS
            with self._lock:
                self._sample(now)

    def _sample(self, now: int) -> None:
        """Under the lock: in-flight and stalled gauges per op; a call newly past --op-timeout is
        counted as stalled once."""
        if self._rec is None:
            return
        inflight, stalled = [0] * self.n_ops, [0] * self.n_ops
        for stack in self._stacks.values():
            top = stack[-1]
            inflight[top.op] += 1
            if now - top.since_ns > self.op_timeout_ns:
                stalled[top.op] += 1
                if not top.stalled:
                    top.stalled = True
                    self._rec.stall(top.op, now)
        for op in range(self.n_ops):
            self._rec.gauges(op, inflight[op], stalled[op], now)
