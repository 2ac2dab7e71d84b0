"""Waiting before trying again: delays that double after each failure, up to a cap.

The one helper behind every "retry until it works" loop (the projector's batch writes, the query
service's change stream, a partition owner claiming its partition while Kafka is away): the
first retry comes soon, so a blip costs little, and a long outage is probed every few seconds
rather than hammered.
"""

from __future__ import annotations

import asyncio


class Backoff:
    def __init__(self, first_s: float = 0.1, cap_s: float = 5.0) -> None:
        self._first_s = first_s
        self._cap_s = cap_s
        self.delay = first_s

    async def wait(self) -> None:
        """Sleep the current delay, then double it (up to the cap) for the next failure."""
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, self._cap_s)

    def reset(self) -> None:
        """After a success: the next failure waits the first delay again."""
        self.delay = self._first_s
