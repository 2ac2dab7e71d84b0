"""Property tests: whatever commands arrive, the log the decider writes is gapless and folds to the state."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.commands import CreateProduct, DeleteProduct, parse, parse_update
from shared.domain.decider import State, decide, evolve, fold
from shared.domain.errors import DomainError
from shared.domain.events import ProductEvent
from shared.envelope import from_record, new_envelope, to_record

IDS = ["00000000-0000-4000-8000-00000000000%d" % i for i in range(3)]
names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20).filter(str.strip)
money = st.builds(
    lambda cents, cur: {"amount": f"{cents // 100}.{cents % 100:02d}" if cur != "JPY" else str(cents), "currency": cur},
    st.integers(0, 10_000), st.sampled_from(["EUR", "USD", "JPY"]),
)
versions = st.none() | st.integers(0, 6)
creates = st.builds(
    lambda pid, name, price, tags: parse(CreateProduct, {"id": pid, "sku": "SKU-1", "name": name, "price": price, "tags": tags}),
    st.sampled_from(IDS), names, money, st.lists(st.sampled_from(["a", "b", "c"]), max_size=3),
)
updates = st.builds(
    lambda pid, version, changes: parse_update({"id": pid, "expectedVersion": version, **changes}),
    st.sampled_from(IDS), versions,
    st.fixed_dictionaries({}, optional={"name": names, "price": money, "category": st.none() | st.sampled_from(["x", "y"]),
                                        "description": st.none() | names, "tags": st.lists(st.sampled_from(["a", "b"]), max_size=2)}),
)
deletes = st.builds(lambda pid, version: parse(DeleteProduct, {"id": pid, "expectedVersion": version}),
                    st.sampled_from(IDS), versions)
commands = st.lists(st.one_of(creates, updates, deletes), max_size=40)


@settings(max_examples=300, deadline=None)
@given(commands)
def test_any_command_sequence_gives_a_gapless_log_that_folds_to_the_state(batch: list[Any]) -> None:
    states: dict[str, State] = {}
    log: dict[str, list[tuple[int, ProductEvent]]] = {pid: [] for pid in IDS}
    for command in batch:
        state = states.get(command.id)
        try:
            events = decide(command, state)
        except DomainError:
            continue  # a refused command writes nothing: the log below must not see it
        for event in events:
            state = evolve(state, event)
            assert state is not None
            log[command.id].append((state.version, event))
        states[command.id] = state
    for pid, entries in log.items():
        assert [version for version, _ in entries] == list(range(1, len(entries) + 1))
        assert fold(event for _, event in entries) == states.get(pid)


@settings(max_examples=200, deadline=None)
@given(commands)
def test_every_event_survives_the_trip_through_a_kafka_record(batch: list[Any]) -> None:
    states: dict[str, State] = {}
    for command in batch:
        try:
            events = decide(command, states.get(command.id))
        except DomainError:
            continue
        for event in events:
            states[command.id] = evolve(states.get(command.id), event)
            envelope = new_envelope(event, states[command.id].version, command.command_id, "corr")  # type: ignore[union-attr]
            key, value, headers = to_record(envelope)
            assert from_record(key, value, headers) == envelope
