"""A realistic event log for the projection benchmark, made by the domain itself.

Client-style inputs go through the same parsing and decider as a mutation, so every event is
one the command service could have written. Half the events create products, the other half
update them (a new price for most, a new name or tags for some), all creates first and the
updates shuffled, so a replay batch touches many products as a busy live log would.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

from services.command.graphql import update_command
from shared.domain.commands import CreateProduct, parse
from shared.domain.decider import State, decide, evolve
from shared.envelope import Envelope, new_envelope

CATEGORIES = 20  # bench/lua/query.lua asks for category-00 … category-19
WORDS = ["mug", "plate", "lamp", "chair", "table", "desk", "shelf", "rug", "pillow", "vase"]
ADJECTIVES = ["red", "blue", "green", "oak", "steel", "linen", "round", "tall", "small"]
TAGS = [f"tag-{i:02d}" for i in range(50)]


def _price(rng: random.Random) -> dict[str, str]:
    return {"amount": f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}", "currency": "EUR"}


def _create_input(rng: random.Random, i: int) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "sku": f"SKU-{i:07d}",
        "name": f"{rng.choice(ADJECTIVES)} {rng.choice(WORDS)} {i}",
        "description": "A product of the benchmark's generated catalog.",
        "price": _price(rng),
        "category": f"category-{i % CATEGORIES:02d}",
        "tags": rng.sample(TAGS, 3),
        "brand": f"brand-{i % 37}",
    }


def _update_input(rng: random.Random, product_id: str, i: int) -> dict[str, Any]:
    data: dict[str, Any] = {"id": product_id, "price": _price(rng)}
    if i % 5 == 0:
        data["name"] = f"{rng.choice(ADJECTIVES)} {rng.choice(WORDS)} {i} (renamed)"
    if i % 7 == 0:
        data["tags"] = rng.sample(TAGS, 2)
    return data


def _events(command: Any, state: State) -> tuple[list[Envelope], State]:
    envelopes = []
    for event in decide(command, state):
        state = evolve(state, event)
        assert state is not None
        envelopes.append(new_envelope(event, state.version, command.command_id, "bench"))
    return envelopes, state


def generate(products: int, seed: int = 6, updates: int = 1) -> Iterator[Envelope]:
    """(1 + `updates`) * `products` events: every product's creation, then `updates` rounds of
    one update of each product, each round shuffled."""
    rng = random.Random(seed)
    states: dict[str, State] = {}
    for i in range(products):
        command = parse(CreateProduct, _create_input(rng, i))
        envelopes, states[command.id] = _events(command, None)
        yield from envelopes
    order = list(states)
    for round_ in range(updates):
        rng.shuffle(order)
        for i, product_id in enumerate(order):
            update = update_command(_update_input(rng, product_id, i + round_ * products))
            envelopes, states[product_id] = _events(update, states[product_id])
            yield from envelopes
