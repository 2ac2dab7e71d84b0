"""The write side's partition log on real Kafka (adapters/kafka_partition.py): fencing by
claim, appends only at the offset the owner expects, and restoring a partition from its
changelog (or migrating one written before the changelog existed) to the fold of its events."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.command.adapters.kafka_partition import KafkaPartitionLog
from services.command.partition_writer import PartitionWriter
from services.command.planning import IssuedCommand, plan
from services.command.ports import Fenced, UnexpectedOffset
from services.command.restore import restore
from services.command.routing import partition_for
from services.command.write_state import decode
from shared.adapters.kafka_log import ensure_topics
from shared.envelope import to_record
from shared.settings import CommandSettings
from tests.support.kafka import fold, read_all
from tests.support.strategies import IDS, commands, write_side
from tests.unit.command.test_partition_writer import create, rename, until

HORIZON = 8


def command_settings(env: dict[str, str]) -> CommandSettings:
    fields = CommandSettings.model_fields
    return CommandSettings(**{k.lower(): v for k, v in env.items() if k.lower() in fields})


async def writer_for(settings: CommandSettings, partition: int) -> PartitionWriter:
    writer = PartitionWriter(KafkaPartitionLog(settings, partition), 64, HORIZON)
    writer.start()
    await until(lambda: writer.ready, timeout_s=30)
    return writer


async def restored_states(settings: CommandSettings, partition: int) -> tuple[Any, dict[str, Any]]:
    log = KafkaPartitionLog(settings, partition)
    try:
        await log.claim()
        result = await restore(log, HORIZON)
    finally:
        await log.close()
    return result, {pid: decode(pid, value).product for pid, value in result.states.items()}


@pytest.fixture
async def topic(isolated_env: dict[str, str]) -> CommandSettings:
    settings = command_settings(isolated_env)
    await ensure_topics(settings)
    return settings


async def test_a_newer_claim_fences_the_older_owner(topic: CommandSettings) -> None:
    pid = IDS[0]
    partition = partition_for(pid, topic.events_partitions)
    old = await writer_for(topic, partition)
    await old.submit(create(pid, "c1"), 10)
    new = KafkaPartitionLog(topic, partition)
    await new.claim()
    try:
        log = old._log
        with pytest.raises(Fenced):
            decided = plan(
                [rename(pid, "Cup")], old._state_of, partition, old._next_offset, HORIZON
            )
            await log.append(decided.envelopes, [], decided.first_offset)
    finally:
        await new.close()
        await old.close(5)
    records = await read_all(topic.kafka_bootstrap_servers, topic.events_topic)
    assert [r.sequence for r in records] == [1]  # the fenced append is nowhere


async def test_an_append_at_an_unexpected_offset_is_aborted(topic: CommandSettings) -> None:
    pid = IDS[1]
    partition = partition_for(pid, topic.events_partitions)
    writer = await writer_for(topic, partition)
    try:
        first = await writer.submit(create(pid, "c1"), 10)
        intruder = AIOKafkaProducer(bootstrap_servers=topic.kafka_bootstrap_servers)
        await intruder.start()
        try:
            records = await read_all(topic.kafka_bootstrap_servers, topic.events_topic)
            key, value, headers = (
                records[0].key.encode(),
                records[0].value,
                list((k, v.encode()) for k, v in records[0].headers.items()),
            )
            await intruder.send_and_wait(
                topic.events_topic, value, key=key, headers=headers, partition=partition
            )
        finally:
            await intruder.stop()
        decided = plan(
            [rename(pid, "Cup")], writer._state_of, partition, writer._next_offset, HORIZON
        )
        with pytest.raises(UnexpectedOffset):
            await writer._log.append(decided.envelopes, [], decided.first_offset)
    finally:
        await writer.close(5)
    records = await read_all(topic.kafka_bootstrap_servers, topic.events_topic)
    assert [r.headers["ce_id"] for r in records] == [first.event_id] * 2  # ours + the intruder's


@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(batches=st.lists(commands, min_size=1, max_size=4))
async def test_restoring_from_the_changelog_gives_the_fold_of_the_events(
    isolated_env: dict[str, str], batches: list[list[Any]]
) -> None:
    env = {**isolated_env, "EVENTS_TOPIC": f"{isolated_env['EVENTS_TOPIC']}-{uuid.uuid4().hex[:6]}"}
    settings = command_settings(env)
    await ensure_topics(settings)
    writers = {p: await writer_for(settings, p) for p in {partition_for(pid, 6) for pid in IDS}}
    try:
        for batch in batches:
            await asyncio.gather(
                *(
                    writers[partition_for(c.id, 6)].submit(IssuedCommand(c, "corr", "t"), 10)
                    for c in batch
                ),
                return_exceptions=True,
            )
    finally:
        for writer in writers.values():
            await writer.close(5)
    truth = fold(await read_all(settings.kafka_bootstrap_servers, settings.events_topic))
    for partition in writers:
        result, states = await restored_states(settings, partition)
        assert result.folded == 0 and result.repaired is None
        mine = {pid: s for pid, s in truth.items() if partition_for(pid, 6) == partition}
        assert states == mine


async def test_a_topic_written_before_the_changelog_is_migrated_once(
    isolated_env: dict[str, str],
) -> None:
    settings = command_settings(isolated_env)
    await ensure_topics(settings)
    creates = [create(pid).command for pid in IDS]
    renames = [rename(pid, f"n{i}").command for i, pid in enumerate(IDS * 3)]
    log, truth = write_side([*creates, *renames])
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_idempotence=True
    )
    await producer.start()
    try:  # the legacy writer: every event, and a redelivery of each create
        for envelope in [*log, *log[: len(IDS)]]:
            key, value, headers = to_record(envelope)
            await producer.send_and_wait(settings.events_topic, value, key=key, headers=headers)
    finally:
        await producer.stop()
    partitions = {partition_for(pid, 6) for pid in IDS}
    for partition in partitions:
        first, states = await restored_states(settings, partition)
        assert first.folded > 0 and states == {
            pid: s for pid, s in truth.items() if partition_for(pid, 6) == partition
        }
        second, again = await restored_states(settings, partition)
        assert second.folded == 0 and again == states  # from the changelog now
        assert second.changelog_records == len(states)  # one record per product


async def test_a_foreign_record_in_the_changelog_is_reported_and_the_partition_rebuilt(
    topic: CommandSettings, caplog: pytest.LogCaptureFixture
) -> None:
    pid = IDS[2]
    partition = partition_for(pid, topic.events_partitions)
    writer = await writer_for(topic, partition)
    try:
        await writer.submit(create(pid, "c1"), 10)
        await writer.submit(rename(pid, "Cup", "r1"), 10)
    finally:
        await writer.close(5)
    _, before = await restored_states(topic, partition)
    intruder = AIOKafkaProducer(bootstrap_servers=topic.kafka_bootstrap_servers)
    await intruder.start()
    try:  # someone writes to the internal topic: a value that is no state, and no header
        await intruder.send_and_wait(
            topic.changelog_topic, b'{"id": "x"}', key=pid.encode(), partition=partition
        )
    finally:
        await intruder.stop()
    result, states = await restored_states(topic, partition)
    assert result.repaired is not None and "not product states" in result.repaired
    assert "cannot be trusted" in caplog.text
    assert states == before  # rebuilt from the events, not taken from the bad record
    again, _ = await restored_states(topic, partition)
    assert again.repaired is None and again.folded == 0  # the rebuilt states were written back
