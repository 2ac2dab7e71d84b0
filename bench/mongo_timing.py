"""Where a MongoDB client's time goes: server round-trip time summed per command and collection.

pymongo's command monitoring reports each command's duration as the driver saw it (send to
reply). Summed per `insert products`, `aggregate products`, `commitTransaction` …, it splits a
phase's wall time into the database's share and ours without a profiler.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pymongo import monitoring


class CommandTimes(monitoring.CommandListener):
    def __init__(self) -> None:
        self._started: dict[int, str] = {}
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.count: defaultdict[str, int] = defaultdict(int)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        name = event.command_name
        if isinstance(target, str) and name not in {"commitTransaction", "abortTransaction"}:
            name = f"{name} {target}"
        self._started[event.request_id] = name

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._done(event.request_id, event.duration_micros)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._done(event.request_id, event.duration_micros)

    def _done(self, request_id: int, micros: int) -> None:
        name = self._started.pop(request_id, "?")
        self.seconds[name] += micros / 1e6
        self.count[name] += 1

    def report(self) -> dict[str, Any]:
        """{command: {"s": seconds, "n": count}}, slowest first."""
        ordered = sorted(self.seconds.items(), key=lambda item: -item[1])
        return {name: {"s": round(s, 3), "n": self.count[name]} for name, s in ordered}
