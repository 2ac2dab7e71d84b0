"""Hypothesis strategies for commands, and a tiny in-memory write side to turn them into a log."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from services.command.graphql import update_command
from shared.domain.commands import CreateProduct, DeleteProduct, parse
from shared.domain.decider import State, decide, evolve
from shared.domain.errors import DomainError
from shared.envelope import Envelope, new_envelope

IDS = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(4)]
names = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20
).filter(str.strip)
money = st.builds(
    lambda cents, cur: {
        "amount": str(cents) if cur == "JPY" else f"{cents // 100}.{cents % 100:02d}",
        "currency": cur,
    },
    st.integers(0, 10_000),
    st.sampled_from(["EUR", "USD", "JPY"]),
)
categories = st.none() | st.sampled_from(["cups", "plates", "bowls"])
brands = st.none() | st.sampled_from(["Acme", "Globex"])
versions = st.none() | st.integers(0, 6)
creates = st.builds(
    lambda pid, name, price, category, tags, brand: parse(
        CreateProduct,
        {
            "id": pid,
            "sku": "SKU-1",
            "name": name,
            "price": price,
            "category": category,
            "tags": tags,
            "brand": brand,
        },
    ),
    st.sampled_from(IDS),
    names,
    money,
    categories,
    st.lists(st.sampled_from(["a", "b", "c"]), max_size=3),
    brands,
)
updates = st.builds(
    lambda pid, version, changes: update_command(
        {"id": pid, "expectedVersion": version, **changes}
    ),
    st.sampled_from(IDS),
    versions,
    st.fixed_dictionaries(
        {},
        optional={
            "name": names,
            "price": money,
            "category": categories,
            "description": st.none() | names,
            "tags": st.lists(st.sampled_from(["a", "b"]), max_size=2),
            "brand": brands,
        },
    ),
)
deletes = st.builds(
    lambda pid, version: parse(DeleteProduct, {"id": pid, "expectedVersion": version}),
    st.sampled_from(IDS),
    versions,
)
commands = st.lists(st.one_of(creates, creates, updates, updates, deletes), max_size=40)


def write_side(batch: list[Any]) -> tuple[list[Envelope], dict[str, State]]:
    """Decide each command against the state so far, as the command service does, in memory."""
    states: dict[str, State] = {}
    log: list[Envelope] = []
    for command in batch:
        state = states.get(command.id)
        try:
            events = decide(command, state)
        except DomainError:
            continue
        for event in events:
            state = evolve(state, event)
            assert state is not None
            log.append(new_envelope(event, state.version, command.command_id, "test"))
        states[command.id] = state
    return log, states
