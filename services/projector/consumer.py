"""The projector's loop: take a batch, dead-letter what cannot be read, write, then commit.

Offsets are committed only after the batch's MongoDB transaction succeeded, so a crash at any
point redelivers at most the last batch, which the version guard turns into no-ops. While MongoDB
is unreachable the loop retries the same batch and commits nothing: it pauses, it loses nothing.
Beside the loop, a task takes records from the consumer as they arrive (see intake.py), so that
the next batch is all that was committed while this one was written.

A batch's offset commit is not waited for before the next batch starts: it runs while the next
batch is written, and that batch's MongoDB transaction commits only after it succeeded (the
writer's `before_commit`). So MongoDB never holds more than one batch whose offsets are not
committed, and the Kafka round trip is off the path from one batch to the next.

With tracing on, each batch is traced as shared/adapters/tracing.py describes: a span of its own
linked to each event's context, and each event's process and MongoDB-write spans in the event's
trace; the events handed to the store carry the write span's context, which the products'
documents keep for the query service's subscription pushes. Events without a trace context
are projected exactly as before.

The loop depends on ports (ports.py) only: the event source and the dead-letter sink are Kafka
adapters in shared/adapters/, the store and the pause switch MongoDB ones, and the unit tests
run it over in-memory fakes (tests/unit/test_projector_loop.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge, Histogram
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from services.projector.batch import BatchResult
from services.projector.intake import Intake
from services.projector.ports import (
    Batches,
    DeadLetterSink,
    EventSource,
    Partition,
    PauseRequests,
    ReadModelStore,
    Record,
)
from shared.adapters.mongo import Document
from shared.adapters.tracing import Origin, ProjectorSpans
from shared.backoff import Backoff
from shared.envelope import BadRecord, Envelope, from_record

log = logging.getLogger(__name__)

APPLIED = Counter("catalog_projector_events_applied_total", "Events applied to the read models")
SKIPPED = Counter("catalog_projector_events_skipped_total", "Redelivered events already applied")
DEAD_LETTERS = Counter(
    "catalog_projector_dead_letters_total", "Records sent to the dead-letter topic", ["reason"]
)
GAPS = Counter(
    "catalog_projector_gaps_total", "Events refused because an earlier version is missing"
)
LAG = Gauge("catalog_projector_lag", "Records not yet projected", ["partition"])
LAST_EVENT = Gauge(
    "catalog_projector_last_event_timestamp_seconds", "Time of the last applied event"
)
BATCH_SECONDS = Histogram("catalog_projector_batch_seconds", "Time to project one batch")


class OffsetCommitFailed(Exception):
    """Kafka refused a batch's offsets: the loop ends, as when it waited for the commit."""


class Projector:
    def __init__(
        self,
        source: EventSource,
        dead_letters: DeadLetterSink,
        store: ReadModelStore,
        pause: PauseRequests,
        max_batch: int,
        backoff: Backoff | None = None,
        spans: ProjectorSpans | None = None,
    ) -> None:
        self._source = source
        self._spans = spans if spans is not None and spans.recording else None
        self._dead_letters = dead_letters
        self._store = store
        self._pause = pause
        self._backoff = backoff or Backoff(first_s=0.1, cap_s=5.0)
        self._intake = Intake(max_batch)
        self._committing: asyncio.Task[None] | None = None  # the last batch's offset commit
        self.running = False
        self.mongo_ok = True
        self.gaps = 0
        self.last_event_time: datetime | None = None

    async def start(self) -> None:
        await self._dead_letters.start()
        await self._source.start()

    async def stop(self) -> None:
        self.running = False
        if self._committing is not None:  # let the last batch's offsets land: less to redo
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._committing, 5)
        await self._source.stop()
        await self._dead_letters.stop()

    async def run(self) -> None:
        self.running = True
        async with asyncio.TaskGroup() as tasks:  # if one fails, both stop and run() raises
            tasks.create_task(self._fetch(), name="projector-fetch")
            while True:
                if (token := await self._pause_requested()) is not None:
                    await self._hand_over(token)
                batches = await self._intake.take(0.2, self._source.assignment)
                if batches:
                    await self._project(batches)

    async def _fetch(self) -> None:
        """Keep taking records from the consumer, as far as the intake has room."""
        while True:
            room = await self._intake.room()
            self._intake.put(await self._source.fetch(max_records=room, timeout_ms=200))

    async def _pause_requested(self) -> str | None:
        """The rebuild's pause request; none while MongoDB is unreachable.

        A failed look at the switch must not end the loop: that turned every MongoDB outage into
        a dead projector. Going on is safe, because a rebuild cannot reach MongoDB either, and
        the batch the loop fetches next waits in `_write_until_done` until MongoDB is back.
        """
        try:
            return await self._pause.requested()
        except PyMongoError as exc:
            log.warning("could not read the pause switch, MongoDB unreachable: %s", exc)
            return None

    async def _hand_over(self, token: str) -> None:
        """Stand still while a rebuild swaps the read models.

        The positions are the consumer's: past every record applied, and past those fetched
        but not yet applied, too, so the rebuild replays these as well and applying them after
        the swap changes nothing (version guard).
        """
        await self._offsets_committed()
        positions = {
            tp.partition: await self._source.position(tp) for tp in self._source.assignment()
        }
        log.info("paused for a read-model rebuild at %s", positions)
        await self._pause.hold(token, positions)
        log.info("resumed after the rebuild")

    async def _project(self, batches: Batches) -> None:
        good: list[Envelope] = []
        origins: list[Origin] = []
        for tp, records in batches.items():
            for record in records:
                try:
                    good.append(from_record(record.key, record.value, record.headers))
                except BadRecord as exc:
                    await self._dead_letter(tp, record, exc)
                    continue
                if self._spans is not None:
                    origins.append(Origin(tp.topic, tp.partition, record.offset))
        if good:
            traced = self._spans.batch(good, origins) if self._spans is not None else None
            try:
                with BATCH_SECONDS.time():
                    result = await self._write_until_done(traced.envelopes if traced else good)
            except BaseException as exc:
                if traced is not None:
                    traced.end(exc)
                raise
            if traced is not None:
                traced.end(
                    attributes={
                        "catalog.projection.applied": result.applied,
                        "catalog.projection.skipped": result.skipped,
                        "catalog.projection.gaps": len(result.gaps),
                    }
                )
            APPLIED.inc(result.applied)
            SKIPPED.inc(result.skipped)
            for envelope, version in result.gaps:
                self.gaps += 1
                GAPS.inc()
                log.error(
                    "version gap: product %s is at %d, event %s has sequence %d",
                    envelope.product_id,
                    version,
                    envelope.event_id,
                    envelope.sequence,
                )
            if result.last_event_time is not None:
                self.last_event_time = result.last_event_time
                LAST_EVENT.set(result.last_event_time.timestamp())
        await self._offsets_committed()  # one offset commit at a time, in batch order
        offsets = {tp: records[-1].offset + 1 for tp, records in batches.items()}
        self._committing = asyncio.create_task(self._source.commit(offsets))

    async def _offsets_committed(self) -> None:
        """Until the last batch's offsets are committed; OffsetCommitFailed if Kafka refused."""
        if self._committing is not None:
            try:
                await self._committing
            except Exception as exc:
                raise OffsetCommitFailed(f"committing offsets failed: {exc!r}") from exc

    async def _write_until_done(self, envelopes: list[Envelope]) -> BatchResult:
        self._backoff.reset()
        while True:
            try:
                result = await self._store.apply(envelopes, self._offsets_committed)
                self.mongo_ok = True
                return result
            except OffsetCommitFailed:
                raise
            except Exception:
                self.mongo_ok = False
                log.warning(
                    "read-model write failed; retrying the same batch in %.1fs",
                    self._backoff.delay,
                    exc_info=True,
                )
                await self._backoff.wait()

    async def _dead_letter(self, tp: Partition, record: Record, error: BadRecord) -> None:
        reason = str(error)
        await self._dead_letters.send(tp, record, reason)
        DEAD_LETTERS.labels(error.kind).inc()
        log.warning("dead-lettered %s@%d: %s", tp, record.offset, reason)

    async def partition_lag(self) -> dict[int, int]:
        """Committed records not yet projected, per assigned partition (known after a fetch).

        Measured from the consumer's position, which moves past transaction markers too, so an
        idle projector reports 0 and not the number of commit markers behind its last record;
        records fetched but still in the intake count as not projected.
        """
        lags = {}
        for tp in self._source.assignment():
            end = self._source.last_stable_offset(tp)
            if end is not None:
                behind = end - await self._source.position(tp) + self._intake.pending(tp)
                lags[tp.partition] = max(0, behind)
        return lags

    async def publish_status(self, status: AsyncCollection[Document], every_s: float = 1.0) -> None:
        """Lag and last event time, as metrics and as a document the query service can serve."""
        while True:
            await asyncio.sleep(every_s)
            if not self.running:
                continue
            lags = await self.partition_lag()
            for partition, lag in lags.items():
                LAG.labels(str(partition)).set(lag)
            update = status_update(lags, self.last_event_time, datetime.now(UTC))
            try:
                await status.update_one({"_id": "projector"}, update, upsert=True)
            except PyMongoError:
                log.debug("could not publish the projection status", exc_info=True)


def status_update(
    lags: Mapping[int, int], last_event_time: datetime | None, now: datetime
) -> list[Document]:
    """The update of the one projection status document by a member of the projector group.

    Several projectors share it, each knowing only its own partitions: the member replaces the
    entries of its partitions and keeps the others' (a partition that moved is rewritten by its
    new owner within a second), and the last event time only ever moves forward. After a restart,
    with no event applied yet, the one published before stays.
    """
    entries = [{"partition": p, "lag": lag} for p, lag in sorted(lags.items())]
    others = {
        "$filter": {
            "input": {"$ifNull": ["$partitions", []]},
            "cond": {"$not": [{"$in": ["$$this.partition", sorted(lags)]}]},
        }
    }
    fields: Document = {
        "partitions": {
            "$sortArray": {
                "input": {"$concatArrays": [others, {"$literal": entries}]},
                "sortBy": {"partition": 1},
            }
        },
        "updatedAt": now,
    }
    if last_event_time is not None:
        fields["lastEventTime"] = {"$max": ["$lastEventTime", last_event_time]}
    return [{"$set": fields}]
