"""Hypothesis strategies for commands, and the write side's own planning to turn them into a log."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from services.command.graphql import update_command
from services.command.planning import IssuedCommand, plan
from services.command.write_state import WriteState
from shared.domain.commands import CreateProduct, DeleteProduct, parse
from shared.domain.decider import State
from shared.envelope import Envelope

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
    """The log the command service writes for these commands, each sent after the one before,
    planned by its own planning (services/command/planning.py), and the states it leaves."""
    states: dict[str, WriteState] = {}
    log: list[Envelope] = []
    for command in batch:
        decided = plan([IssuedCommand(command, "test", "tester")], states.get, 0, len(log), 0)
        log.extend(decided.envelopes)
        states.update(decided.states)
    return log, {pid: state.product for pid, state in states.items()}
