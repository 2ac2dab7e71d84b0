"""This instance's view of partition ownership: its own partition writers, everyone else's
addresses, and whether that view can be trusted right now.

The group membership adapter (adapters/kafka_group.py) drives it with the group's decisions:
`revoked` when a rebalance begins (every writer pauses: the batch in flight finishes, nothing
new is taken, and no owner is known until the rebalance ends), `assigned` when it ends (writers
of partitions that stay here resume, new ones are started, the others close and their queued
commands go to their new owners). The router asks `route` where a partition's commands go.

A paused process (SIGSTOP, a VM freeze, a stop-the-world pause longer than the session
timeout) has been replaced by the time it runs again, but cannot know it before the group tells
it. `StallWatch` notices such a gap in its own running; until the next assignment the
instance then owns nothing, routes nothing and is not ready. Correctness does not rest on it:
the new owner's claim has fenced the old producer, so nothing the paused instance tries to
append can be written. It only makes the instance say so at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from prometheus_client import Counter, Gauge

from services.command.partition_writer import PartitionWriter

log = logging.getLogger(__name__)

OWNED = Gauge("catalog_command_partitions_owned", "Event-topic partitions this instance owns")
REBALANCES = Counter("catalog_command_rebalances_total", "Assignments this instance received")
STALLS = Counter(
    "catalog_command_stalls_total",
    "Times this instance noticed it had not run for longer than its group session",
)

Route = PartitionWriter | str | None  # a local writer, the owner's address, or not known now


class StallWatch:
    """Notices when this process did not run for longer than `limit_s` (it was paused)."""

    def __init__(self, limit_s: float, tick_s: float = 0.25) -> None:
        self._limit_s = limit_s
        self._tick_s = tick_s
        self._last = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        self.on_stall: Callable[[float], None] = lambda _: None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="stall-watch")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def check(self) -> bool:
        """Whether the process has just come back from a pause; reports it once."""
        now = time.monotonic()
        gap, self._last = now - self._last, now
        if gap > self._limit_s:
            STALLS.inc()
            log.error("this process did not run for %.1f s; it may have been replaced", gap)
            self.on_stall(gap)
            return True
        return False

    async def _run(self) -> None:
        while True:
            self.check()
            await asyncio.sleep(self._tick_s)


class Ownership:
    def __init__(
        self,
        new_writer: Callable[[int], PartitionWriter],
        own_url: str,
        stall_watch: StallWatch,
        pause_grace_s: float = 5.0,
    ) -> None:
        self._new_writer = new_writer
        self._own_url = own_url
        self._watch = stall_watch
        self._watch.on_stall = lambda _: self._distrust()
        self._pause_grace_s = pause_grace_s
        self._writers: dict[int, PartitionWriter] = {}
        self._owners: dict[int, str] = {}
        self._changed = asyncio.Event()
        self._closing: set[asyncio.Task[None]] = set()
        self.joined = False  # true from the first assignment on
        self.suspect = False  # back from a pause: replaced, until the group says otherwise

    @property
    def writers(self) -> dict[int, PartitionWriter]:
        return dict(self._writers)

    @property
    def owners(self) -> dict[int, str]:
        return dict(self._owners)

    def ready(self) -> bool:
        """Joined the group, trusted, and every partition it owns restored."""
        self._watch.check()
        return self.joined and not self.suspect and all(w.ready for w in self._writers.values())

    def route(self, partition: int) -> Route:
        self._watch.check()
        if self.suspect or not self.joined:
            return None
        writer = self._writers.get(partition)
        if writer is not None and not writer.closed:
            return writer
        owner = self._owners.get(partition)
        return None if owner is None or owner == self._own_url else owner

    async def changed(self, timeout_s: float) -> None:
        """Wait (at most `timeout_s`) for the next change of ownership."""
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout_s)

    async def revoked(self) -> None:
        """A rebalance began: no owner is known until it ends; this instance's writers pause."""
        self._owners = {}
        await asyncio.gather(*(w.pause(self._pause_grace_s) for w in self._writers.values()))
        self._notify()

    async def assigned(self, partitions: set[int], owners: dict[int, str]) -> None:
        """A rebalance ended: `partitions` are this instance's, `owners` says whose the rest are."""
        REBALANCES.inc()
        gone = [w for p, w in self._writers.items() if p not in partitions or w.closed]
        for writer in gone:
            del self._writers[writer.partition]
        for partition in sorted(partitions):
            kept = self._writers.get(partition)
            if kept is None:
                fresh = self._writers[partition] = self._new_writer(partition)
                fresh.start()
            else:
                kept.resume()
        self._owners = dict(owners)
        self.joined = True
        self.suspect = False
        OWNED.set(len(partitions))
        log.info(
            "assigned partitions %s (%d instances own the rest: %s)",
            sorted(partitions),
            len(set(owners.values()) - {self._own_url}),
            sorted(set(owners.values()) - {self._own_url}),
        )
        self._notify()
        # Closed in the background: the group's callback that called this must return soon,
        # since aiokafka sends no heartbeats until it has.
        for writer in gone:
            task = asyncio.get_running_loop().create_task(writer.close(self._pause_grace_s))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        await asyncio.gather(*self._closing)
        writers, self._writers, self._owners = list(self._writers.values()), {}, {}
        self.joined = False
        OWNED.set(0)
        await asyncio.gather(*(w.close(self._pause_grace_s) for w in writers))
        self._notify()

    def _distrust(self) -> None:
        """Back from a pause: act as if every partition were revoked until the next assignment."""
        self.suspect = True
        self._owners = {}
        for writer in self._writers.values():
            asyncio.get_running_loop().create_task(writer.pause(self._pause_grace_s))
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
