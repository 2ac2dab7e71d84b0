"""Records fetched from Kafka and not yet projected, filled by one task while another writes.

aiokafka asks the broker for a partition's next records only once the application has taken
the ones it fetched last. With `getmany` called between batches, a batch therefore held only
what had arrived by the first fetch response during the batch before; whatever was committed
after that waited through the whole next batch as well (the lag this cost is in
bench/RESULTS.md). Taking records from the consumer as they come, while a batch is being
written, keeps aiokafka fetching, so each batch is everything committed until it starts.

Bounded: while the intake is full (MongoDB unreachable, say) nothing more is taken, and the
projector pauses with at most one batch in memory, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection, Mapping, Sequence

from services.projector.ports import Batches, Partition, Record


class Intake:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._records: Batches = {}
        self._count = 0
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    def put(self, batches: Mapping[Partition, Sequence[Record]]) -> None:
        """Add records as fetched, each partition's after those it already has."""
        for tp, records in batches.items():
            if records:
                self._records.setdefault(tp, []).extend(records)
                self._count += len(records)
        if self._count:
            self._arrived.set()
        if self._count >= self._limit:
            self._room.clear()

    async def room(self) -> int:
        """How many more records may be taken in; waits while there is no room."""
        await self._room.wait()
        return self._limit - self._count

    async def take(
        self, timeout_s: float, assigned: Callable[[], Collection[Partition]]
    ) -> Batches:
        """Everything that came in, of the partitions `assigned()` names when they are taken;
        waits up to `timeout_s` for something to come in. Records of partitions taken away by a
        rebalance are dropped: their new owner reads them from the committed offsets.

        The assignment is asked for after the wait, not before: records of a partition given to
        us by a rebalance during the wait were dropped as "not ours" while the consumer's
        position moved past them, and they were never projected (a version gap).
        """
        if not self._count:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout_s)
        taken, self._records, self._count = self._records, {}, 0
        self._arrived.clear()
        self._room.set()
        ours = assigned()
        return {tp: records for tp, records in taken.items() if tp in ours}

    def pending(self, tp: Partition) -> int:
        """Records of a partition fetched and not yet taken."""
        return len(self._records.get(tp, ()))
