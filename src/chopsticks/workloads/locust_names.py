"""The names a chopsticks 0.x scenario imports from `locust`, provided by chopsticks.

The scenario loader puts this module in sys.modules as `locust` before a scenario file runs, so
`from locust import task, between` gets chopsticks' own names whether or not Locust is installed.
The real Locust is never imported: it would monkey-patch the worker process with gevent.

- `task`, `between`, `constant`, `constant_pacing`: chopsticks' own (chopsticks.workloads).
- `tag`: labels tasks for `chopsticks run --tags/--exclude-tags`, with Locust's rule.
- `events`: `events.request.fire(...)` is accepted and ignored, since every client call is
  already timed; a listener added to any event is never called (there is no Locust runner), and
  the load-time note says so (`events.with_listeners()`).
- `User`: the base of every workload class; a scenario must derive from S3Workload or
  RBDWorkload, as 0.x scenarios do.
"""
from __future__ import annotations

from typing import Callable

from chopsticks.workloads.base import Workload as User
from chopsticks.workloads.base import between, constant, constant_pacing, tag, task

__all__ = ["User", "between", "constant", "constant_pacing", "events", "tag", "task"]

class EventHook:
    """A Locust event that nothing fires: fire() does nothing, listeners are never called."""

    def __init__(self, name: str):
        self.name = name
        self.listeners: list[Callable] = []

    def fire(self, *args, **kwargs) -> None:
        """Accepted and ignored: chopsticks times every client call itself."""

    def add_listener(self, listener: Callable) -> Callable:
        self.listeners.append(listener)
        return listener

    def remove_listener(self, listener: Callable) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)


class Events:
    """`locust.events`: any event name (request, init, test_start, quitting, ...) is an EventHook."""

    def __getattr__(self, name: str) -> EventHook:
        if name.startswith("__"):
            raise AttributeError(name)
        hook = EventHook(name)
        setattr(self, name, hook)
        return hook

    def with_listeners(self) -> list[str]:
        """Names of the events a scenario added listeners to (which will never be called)."""
        return sorted(name for name, hook in vars(self).items() if hook.listeners)


events = Events()
