"""One partition of the event topic and of its changelog, on Kafka, for the partition's owner.

Appends go through a transactional producer whose transactional id is derived from the
partition (`CommandSettings.transactional_id`). Claiming the partition starts a new producer
with that id: the broker bumps the id's epoch, aborts whatever transaction an earlier holder
left open and refuses every later write of that holder (ProducerFenced). So however many
instances once owned the partition, crashed or paused, only the latest claimant can commit.
(aiokafka has no KIP-447 fencing by consumer-group generation; one transactional id per
partition is the pattern its documentation describes for this.)

Reads use a consumer assigned to the two partitions, with read_committed: records of aborted
or still-open transactions are never seen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError, ProducerFenced

from services.command.ports import (
    Fenced,
    LogUnavailable,
    StateRecord,
    StateWrite,
    UnexpectedOffset,
)
from shared.adapters import private_api
from shared.adapters.kafka_log import parse_record
from shared.changelog import SCHEMA, SCHEMA_HEADER, THROUGH_HEADER
from shared.envelope import BadRecord, Envelope, to_record
from shared.settings import CommandSettings

log = logging.getLogger(__name__)

APPEND_TIMEOUT_S = 4.0


class KafkaPartitionLog:
    def __init__(self, settings: CommandSettings, partition: int) -> None:
        self._settings = settings
        self._partition = partition
        self._events = TopicPartition(settings.events_topic, partition)
        self._changelog = TopicPartition(settings.changelog_topic, partition)
        self._transactional_id = settings.transactional_id(partition)
        self._producer: Any = None
        self._reader: Any = None
        # Where the two partitions ended when last seen (events, changelog); None: not known.
        self._ends: dict[TopicPartition, int | None] = {self._events: None, self._changelog: None}

    @property
    def partition(self) -> int:
        return self._partition

    async def claim(self) -> None:
        await self._stop_producer()
        producer = AIOKafkaProducer(
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            transactional_id=self._transactional_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=0,
            # Shorter than the command timeout, so a Kafka outage ends an append with a definite
            # answer before the client's own deadline.
            request_timeout_ms=5_000,
            client_id=f"{self._transactional_id}-producer",
        )
        try:
            await producer.start()
            # aiokafka obtains the producer id lazily; wait for it so that the fencing happens
            # here, before the state is read, and not on the first append.
            await private_api.wait_for_producer_id(producer, 30)
        except (KafkaError, TimeoutError) as exc:
            await _quietly(producer.stop())
            raise LogUnavailable(f"cannot claim partition {self._partition}: {exc!r}") from exc
        self._producer = producer

    async def changelog(self) -> AsyncIterator[StateRecord]:
        reader = await self._reader_for()
        await reader.seek_to_beginning(self._changelog)
        end = (await self._current_ends())[self._changelog]
        async for record in self._read(reader, self._changelog, end):
            yield _state_record(record)
        self._ends[self._changelog] = end

    async def events(self, start: int, end: int) -> AsyncIterator[tuple[Envelope | BadRecord, int]]:
        reader = await self._reader_for()
        reader.seek(self._events, start)
        async for record in self._read(reader, self._events, end):
            yield parse_record(record), record.offset

    async def events_at(self, offsets: Sequence[int]) -> dict[int, Envelope | BadRecord]:
        reader = await self._reader_for()
        found: dict[int, Envelope | BadRecord] = {}
        for offset in sorted(set(offsets)):
            reader.seek(self._events, offset)
            async for record in self._read(reader, self._events, offset + 1):
                found[record.offset] = parse_record(record)
        return found

    async def end_offset(self) -> int:
        end = (await self._current_ends())[self._events]
        self._ends[self._events] = end
        return end

    async def untouched(self) -> bool:
        if None in self._ends.values():
            return False
        return await self._current_ends() == self._ends

    async def _current_ends(self) -> dict[TopicPartition, int]:
        reader = await self._reader_for()
        try:
            ends = await asyncio.wait_for(reader.end_offsets([self._events, self._changelog]), 30)
        except (KafkaError, TimeoutError) as exc:
            raise LogUnavailable(f"cannot read partition {self._partition}'s end: {exc!r}") from exc
        return {tp: int(offset) for tp, offset in ends.items()}

    async def append(
        self, envelopes: Sequence[Envelope], states: Sequence[StateWrite], first_offset: int
    ) -> None:
        through = first_offset + len(envelopes) - 1
        await self._transaction(envelopes, states, through, first_offset)

    async def write_states(self, states: Sequence[StateWrite], through: int) -> None:
        await self._transaction((), states, through, None)

    async def _transaction(
        self,
        envelopes: Sequence[Envelope],
        states: Sequence[StateWrite],
        through: int,
        first_offset: int | None,
    ) -> None:
        producer = self._producer
        if producer is None:
            raise LogUnavailable(f"partition {self._partition} is not claimed")
        ends, self._ends = self._ends, {self._events: None, self._changelog: None}
        committing = False
        try:
            await producer.begin_transaction()
            events = []
            for envelope in envelopes:
                key, value, headers = to_record(envelope)
                events.append(
                    await producer.send(
                        self._events.topic,
                        value,
                        key=key,
                        headers=headers,
                        partition=self._partition,
                    )
                )
            headers = [(SCHEMA_HEADER, SCHEMA.encode()), (THROUGH_HEADER, str(through).encode())]
            records = [
                await producer.send(
                    self._changelog.topic,
                    value,
                    key=key,
                    headers=headers,
                    partition=self._partition,
                )
                for key, value in states
            ]
            # aiokafka keeps a batch waiting for an unreachable broker for a long time; our own
            # deadline turns an outage into a definite "not written" well within the client's.
            written = await asyncio.wait_for(asyncio.gather(*events, *records), APPEND_TIMEOUT_S)
            if first_offset is not None:
                offsets = [metadata.offset for metadata in written[: len(events)]]
                expected = list(range(first_offset, first_offset + len(events)))
                if offsets != expected:
                    await asyncio.wait_for(producer.abort_transaction(), APPEND_TIMEOUT_S)
                    raise UnexpectedOffset(
                        f"partition {self._partition}: the events landed at {offsets[:3]}… "
                        f"instead of {expected[:3]}…; the transaction was aborted"
                    )
            committing = True
            await asyncio.wait_for(producer.commit_transaction(), APPEND_TIMEOUT_S)
            # Each partition now ends after its last record and the commit marker.
            if events:
                ends[self._events] = written[len(events) - 1].offset + 2
            if records:
                ends[self._changelog] = written[-1].offset + 2
            self._ends = ends
        except ProducerFenced as exc:
            raise Fenced(f"partition {self._partition} was claimed by a newer owner") from exc
        except (TimeoutError, KafkaError) as exc:
            # No abort here: with Kafka gone it would only hang. The writer claims the partition
            # again, and that aborts the open transaction.
            raise LogUnavailable(f"Kafka refused the append: {exc!r}", not committing) from exc

    async def close(self) -> None:
        await self._stop_producer()
        if self._reader is not None:
            reader, self._reader = self._reader, None
            await _quietly(reader.stop())

    async def _stop_producer(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await _quietly(producer.stop())

    async def _reader_for(self) -> Any:
        if self._reader is None:
            reader = AIOKafkaConsumer(
                bootstrap_servers=self._settings.kafka_bootstrap_servers,
                isolation_level="read_committed",
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                client_id=f"{self._transactional_id}-reader",
                # A restore reads one partition of each topic; Kafka's default 1 MiB per fetch
                # keeps the transient memory of a restore small next to the states it keeps.
            )
            try:
                await reader.start()
            except KafkaError as exc:
                await _quietly(reader.stop())
                raise LogUnavailable(f"cannot read partition {self._partition}: {exc!r}") from exc
            reader.assign([self._events, self._changelog])
            # Paused but while a read is under way: otherwise aiokafka keeps fetching, in the
            # background, every record the owner appends to either partition, which costs CPU
            # on every write for reads that happen only on a restore or a retry.
            reader.pause(self._events, self._changelog)
            self._reader = reader
        return self._reader

    async def _read(self, reader: Any, tp: TopicPartition, end: int) -> AsyncIterator[Any]:
        """The committed records of `tp` from the reader's position up to `end`."""
        reader.resume(tp)
        try:
            while await reader.position(tp) < end:
                batches = await reader.getmany(tp, timeout_ms=500, max_records=2_000)
                for record in batches.get(tp, ()):
                    if record.offset >= end:
                        return
                    yield record
        except (KafkaError, TimeoutError) as exc:
            raise LogUnavailable(f"cannot read {tp.topic}[{tp.partition}]: {exc!r}") from exc
        finally:
            reader.pause(tp)


def _state_record(record: Any) -> StateRecord:
    headers = dict(record.headers or ())
    schema = headers.get(SCHEMA_HEADER)
    through_text = headers.get(THROUGH_HEADER, b"")
    foreign = None
    through = None
    if schema != SCHEMA.encode():
        foreign = f"header {SCHEMA_HEADER} is {schema!r}, not {SCHEMA!r}"
    else:
        try:
            through = int(through_text)
        except ValueError:
            foreign = f"header {THROUGH_HEADER} is {through_text!r}, not an offset"
    return StateRecord(record.offset, record.key or b"", record.value, through, foreign)


async def _quietly(stopping: Any) -> None:
    """Stop a client without waiting forever: with Kafka away, a flush may never end."""
    try:
        await asyncio.wait_for(stopping, 5)
    except Exception:
        log.debug("stopping a Kafka client", exc_info=True)
