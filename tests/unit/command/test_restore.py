"""Restoring a partition (restore.py) over an in-memory partition with Kafka's offsets and
markers: whatever the log, the restored state is the fold of its events."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.command.planning import IssuedCommand, plan
from services.command.ports import StateRecord
from services.command.restore import Restored, restore
from services.command.write_state import WriteState, decode, encode, fingerprint
from shared.domain.commands import CreateProduct, parse
from shared.domain.decider import State, evolve
from shared.envelope import BadRecord, Envelope
from tests.support.strategies import IDS, commands
from tests.unit.command.fakes import MARKER, FakePartition, FakePartitionLog

HORIZON = 3


def create(pid: str) -> CreateProduct:
    price = {"amount": "1.00", "currency": "EUR"}
    return parse(CreateProduct, {"id": pid, "sku": "S", "name": "N", "price": price})


def written_by_owners(batches: list[list[Any]]) -> FakePartition:
    """A partition as owners write it: each batch planned and appended in one transaction."""
    partition = FakePartition()
    owner = FakePartitionLog(partition)
    asyncio.run(owner.claim())
    states: dict[str, WriteState] = {}
    for batch in batches:
        decided = plan(
            [IssuedCommand(c, "corr", "tester") for c in batch],
            states.get,
            0,
            partition.events_end(),
            HORIZON,
        )
        if decided.envelopes:
            writes = [(pid.encode(), encode(state)) for pid, state in decided.states.items()]
            asyncio.run(owner.append(decided.envelopes, writes, decided.first_offset))
            states.update(decided.states)
    return partition


def reference(partition: FakePartition) -> dict[str, WriteState]:
    """The fold of the event partition, written plainly: per product its events by sequence
    (a redelivered one, same sequence again, counts once), its last commands remembered."""
    seen: dict[str, list[tuple[Envelope, int]]] = {}
    for offset, item in enumerate(partition.events):
        if isinstance(item, Envelope):
            mine = seen.setdefault(item.product_id, [])
            if item.sequence == len(mine) + 1:
                mine.append((item, offset))
    result = {}
    for pid, events in seen.items():
        state: State = None
        for envelope, _ in events:
            state = evolve(state, envelope.event)
        assert state is not None
        last = events[-HORIZON:]
        commands = tuple(fingerprint(e.causation_id) if e.causation_id else "" for e, _ in last)
        result[pid] = WriteState(state, commands, tuple(offset for _, offset in last))
    return result


def restored(partition: FakePartition) -> tuple[Restored, dict[str, WriteState]]:
    log = FakePartitionLog(partition)

    async def run() -> Restored:
        await log.claim()
        return await restore(log, HORIZON)

    result = asyncio.run(run())
    return result, {pid: decode(pid, value) for pid, value in result.states.items()}


batches = st.lists(commands, max_size=6)


@settings(max_examples=100, deadline=None)
@given(batches)
def test_restoring_from_the_changelog_gives_the_fold_of_the_events(b: list[list[Any]]) -> None:
    partition = written_by_owners(b)
    result, states = restored(partition)
    assert states == reference(partition)
    assert result.folded == 0 and result.repaired is None  # the changelog alone sufficed
    assert result.next_offset == partition.events_end()


@settings(max_examples=100, deadline=None)
@given(batches, st.data())
def test_a_log_without_changelog_is_migrated_once_whatever_its_redeliveries(
    b: list[list[Any]], data: st.DataObject
) -> None:
    owned = written_by_owners(b)
    legacy = FakePartition(events=[])  # the same events, written before the changelog existed
    for item in owned.events:
        if item is MARKER:
            continue
        legacy.events += [item, MARKER]
        if data.draw(st.booleans()):  # redelivered: the same event appended again later
            legacy.events += [item, MARKER]
    first, states = restored(legacy)
    assert states == reference(legacy)
    assert first.folded == sum(1 for e in legacy.events if isinstance(e, Envelope))
    second, again = restored(legacy)  # now from the changelog the migration wrote
    assert again == states and second.folded == 0


def test_a_record_that_is_not_a_product_state_is_reported_and_the_partition_rebuilt() -> None:
    partition = written_by_owners([[create(IDS[0]), create(IDS[1])], [create(IDS[2])]])
    truth = reference(partition)
    partition.foreign_state(IDS[1].encode(), b'{"not": "a state"}', None)  # malformed, our header
    partition.foreign_state(b"\xff\xfe", b"whatever", "header catalog_schema is None")
    result, states = restored(partition)
    assert result.repaired is not None and "not product states" in result.repaired
    assert states == truth
    # The rebuilt states and tombstones were written over the bad records: trusted next time.
    again, states_again = restored(partition)
    assert again.repaired is None and again.folded == 0 and states_again == truth
    latest = {r.key: r.value for r in partition.changelog if isinstance(r, StateRecord)}
    assert latest[b"\xff\xfe"] is None  # a tombstone: compaction drops the key


def test_a_bad_record_superseded_by_a_good_one_is_harmless() -> None:
    partition = written_by_owners([])
    partition.foreign_state(b"x", b"junk", "header catalog_schema is None")
    partition.foreign_state(b"x", None, None)  # a tombstone with our header (through None)
    result, states = restored(partition)
    assert result.repaired is None and states == {}


def test_foreign_records_in_the_event_partition_are_skipped() -> None:
    partition = written_by_owners([])
    partition.foreign_event(BadRecord("json", "value is not JSON"))
    result, states = restored(partition)
    assert states == {} and result.folded == 0 and result.next_offset == 2
