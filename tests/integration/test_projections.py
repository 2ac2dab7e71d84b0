"""The read-model writer against real MongoDB: any log, split and redelivered any way, gives the fold."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

from services.command.graphql import update_command
from services.projector.writer import GUARDED_BATCH, ReadModelWriter
from shared.adapters.mongo import CATEGORY_STATS, HISTORY, PRODUCTS, ensure_indexes
from shared.domain.commands import CreateProduct, DeleteProduct, parse
from shared.domain.decider import Product, evolve
from shared.envelope import Envelope
from tests.support.read_models import (
    actual_product,
    actual_stats,
    expected_product,
    expected_stats,
    rounded,
    scratch_database,
)
from tests.support.strategies import IDS, commands, write_side


@pytest.fixture(scope="module")
async def db(mongodb_url: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    async with scratch_database(mongodb_url, "test_projections") as database:
        yield database


def fold_events(log: list[Envelope]) -> dict[str, Product]:
    """Each product's state after these events, by the domain's own evolve."""
    states: dict[str, Product] = {}
    for envelope in log:
        state = evolve(states.get(envelope.product_id), envelope.event)
        assert state is not None
        states[envelope.product_id] = state
    return states


async def check_fold(
    db: AsyncDatabase[dict[str, Any]], suffix: str, states: dict[str, Any], log: list[Any]
) -> None:
    docs = {d["_id"]: d async for d in db[PRODUCTS + suffix].find()}
    assert {pid: actual_product(d) for pid, d in docs.items()} == {
        pid: expected_product(s) for pid, s in states.items()
    }
    history = [
        d async for d in db[HISTORY + suffix].find().sort([("productId", 1), ("version", 1)])
    ]
    assert [(h["_id"], h["version"]) for h in history] == [
        (e.event_id, e.sequence) for e in sorted(log, key=lambda e: (e.product_id, e.sequence))
    ]
    stats = [d async for d in db[CATEGORY_STATS + suffix].find()]
    products: list[Product] = list(states.values())
    assert actual_stats(stats) == rounded(expected_stats(products))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batch=commands,
    cuts=st.lists(st.integers(1, 12), min_size=1, max_size=8),
    replays=st.lists(st.integers(0, 40), max_size=4),
)
async def test_any_log_in_any_batches_with_redeliveries_projects_to_the_fold(
    db: AsyncDatabase[dict[str, Any]], batch: list[Any], cuts: list[int], replays: list[int]
) -> None:
    log, states = write_side(batch)
    suffix = f"_{uuid.uuid4().hex[:8]}"
    await ensure_indexes(db, suffix)
    writer = ReadModelWriter(db, suffix)
    position, chunks = 0, []
    while position < len(log):
        size = cuts[len(chunks) % len(cuts)]
        chunks.append(log[position : position + size])
        position += size
    applied_until = 0
    for index, chunk in enumerate(chunks):
        result = await writer.apply(chunk)
        assert result.gaps == [] and result.applied == len(chunk)
        applied_until += len(chunk)
        # Statistics move by deltas and keep min/max from batch to batch: check every batch.
        so_far = list(fold_events(log[:applied_until]).values())
        stats = [d async for d in db[CATEGORY_STATS + suffix].find()]
        assert actual_stats(stats) == rounded(expected_stats(so_far)), f"after batch {index}"
        for start in replays:  # redeliver a stretch already applied: nothing may change
            replay = log[start % applied_until : applied_until][:10]
            if replay and index % 2 == 0:
                again = await writer.apply(replay)
                assert again.applied == 0 and again.gaps == []
    await check_fold(db, suffix, states, log)
    for name in (PRODUCTS, HISTORY, CATEGORY_STATS):
        await db.drop_collection(name + suffix)


async def test_an_event_after_a_hole_is_refused_not_applied(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    from services.command.graphql import update_command
    from shared.domain.commands import CreateProduct, parse
    from tests.support.strategies import creates, updates  # noqa: F401 - documents where the data comes from

    pid = str(uuid.uuid4())
    log, _ = write_side(
        [
            parse(
                CreateProduct,
                {"id": pid, "sku": "S", "name": "A", "price": {"amount": "1", "currency": "EUR"}},
            ),
            update_command({"id": pid, "name": "B"}),
            update_command({"id": pid, "name": "C"}),
        ]
    )
    writer = ReadModelWriter(db, "_gap")
    await writer.apply([log[0]])
    result = await writer.apply([log[2]])
    assert result.applied == 0 and [(e.sequence, found) for e, found in result.gaps] == [(3, 1)]
    doc = await db[PRODUCTS + "_gap"].find_one({"_id": pid})
    assert doc is not None and (doc["name"], doc["version"]) == ("A", 1)


def create(n: int, amount: str, category: str = "cups") -> Any:
    return parse(
        CreateProduct,
        {
            "id": IDS[n],
            "sku": f"S{n}",
            "name": f"P{n}",
            "price": {"amount": amount, "currency": "EUR"},
            "category": category,
        },
    )


def update(n: int, **changes: Any) -> Any:
    return update_command({"id": IDS[n], **changes})


EUR = {"currency": "EUR"}


@pytest.mark.parametrize(
    ("case", "steps"),
    [
        (
            "the only product gets cheaper",
            [[create(0, "5.00")], [update(0, price={"amount": "3.00", **EUR})]],
        ),
        (
            "the only product gets dearer",
            [[create(0, "5.00")], [update(0, price={"amount": "8.00", **EUR})]],
        ),
        (
            "the cheapest leaves the category",
            [
                [create(0, "1.00"), create(1, "5.00"), create(2, "9.00")],
                [update(0, category="plates")],
            ],
        ),
        (
            "the dearest is deleted",
            [
                [create(0, "1.00"), create(1, "5.00"), create(2, "9.00")],
                [parse(DeleteProduct, {"id": IDS[2]})],
            ],
        ),
        (
            "a middle price moves, the bounds stay",
            [
                [create(0, "1.00"), create(1, "5.00"), create(2, "9.00")],
                [update(1, price={"amount": "6.00", **EUR})],
            ],
        ),
        (
            "a new product below the minimum",
            [[create(0, "5.00"), create(1, "9.00")], [create(2, "0.50")]],
        ),
        (
            "the category empties and fills again",
            [[create(0, "5.00")], [update(0, category="plates")], [update(0, category="cups")]],
        ),
        (
            "the minimum leaves and comes back in one batch",
            [
                [create(0, "1.00"), create(1, "5.00")],
                [update(0, category="plates"), update(0, category="cups")],
            ],
        ),
    ],
)
async def test_category_statistics_after_each_batch(
    db: AsyncDatabase[dict[str, Any]], case: str, steps: list[list[Any]]
) -> None:
    """Where a batch moves a price at a boundary, min and max must be read again, not kept."""
    log, _ = write_side([command for step in steps for command in step])
    suffix = f"_{uuid.uuid4().hex[:8]}"
    await ensure_indexes(db, suffix)
    writer = ReadModelWriter(db, suffix)
    position = 0
    for step in steps:
        batch = log[position : position + len(step)]
        position += len(step)
        await writer.apply(batch)
        so_far = list(fold_events(log[:position]).values())
        stats = [d async for d in db[CATEGORY_STATS + suffix].find()]
        assert actual_stats(stats) == rounded(expected_stats(so_far)), case


class Commands(monitoring.CommandListener):
    """The commands a client sent, as `name collection` (or just the name)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        named = isinstance(target, str) and not event.command_name.endswith("Transaction")
        self.sent.append(f"{event.command_name} {target}" if named else event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def watched(
    mongodb_url: str,
) -> AsyncIterator[tuple[AsyncDatabase[dict[str, Any]], Commands]]:
    """An indexed scratch database whose client records every command it sends."""
    commands = Commands()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongodb_url, tz_aware=True, event_listeners=[commands]
    )
    db = client[f"test_guarded_{uuid.uuid4().hex[:8]}"]
    try:
        await ensure_indexes(db)
        yield db, commands
    finally:
        await client.drop_database(db.name)
        await client.close()


@pytest.mark.parametrize(
    ("case", "change", "reads_stats"),
    [
        ("a middle price moves", update(1, price={"amount": "6.00", **EUR}), False),
        ("a new price below the minimum", update(1, price={"amount": "0.50", **EUR}), False),
        ("a product moves to a new category", update(1, category="plates"), True),
        ("the cheapest gets dearer", update(0, price={"amount": "2.00", **EUR}), True),
        ("the dearest is deleted", parse(DeleteProduct, {"id": IDS[2]}), True),
    ],
)
async def test_statistics_are_read_only_when_a_bound_may_have_left(
    watched: tuple[AsyncDatabase[dict[str, Any]], Commands],
    case: str,
    change: Any,
    reads_stats: bool,
) -> None:
    """A batch whose removed prices lie inside the stored bounds moves the statistics without
    reading them (one round trip less per batch); any other rolls back and reads them."""
    db, commands = watched
    writer = ReadModelWriter(db)
    log, _ = write_side([create(0, "1.00"), create(1, "5.00"), create(2, "9.00"), change])
    await writer.apply(log[:3])
    commands.sent.clear()
    result = await writer.apply(log[3:])
    sent = list(commands.sent)
    assert result.applied == 1, case
    stats = [d async for d in db[CATEGORY_STATS].find()]
    assert actual_stats(stats) == rounded(expected_stats(list(fold_events(log).values())))
    guarded = [
        "find products",
        "update category_stats",
        "update products",
        "update product_history",
        "commitTransaction",
    ]
    if reads_stats:
        assert sent[:3] == [*guarded[:2], "abortTransaction"], case
        assert "find category_stats" in sent, case
    else:
        assert sent == guarded, case


async def test_a_large_batch_reads_the_statistics_without_a_guarded_attempt(
    watched: tuple[AsyncDatabase[dict[str, Any]], Commands],
) -> None:
    """Past GUARDED_BATCH events a guard miss would undo too much work: read right away."""
    db, commands = watched
    writer = ReadModelWriter(db)
    count = GUARDED_BATCH + 1
    log, states = write_side(
        [
            parse(
                CreateProduct,
                {
                    "sku": f"S{n}",
                    "name": f"P{n}",
                    "category": "cups",
                    "price": {"amount": f"{n + 1}.00", "currency": "EUR"},
                },
            )
            for n in range(count + 1)
        ]
    )
    await writer.apply(log[:1])
    commands.sent.clear()
    assert (await writer.apply(log[1:])).applied == count
    assert "abortTransaction" not in commands.sent
    assert commands.sent.index("find category_stats") < commands.sent.index("update category_stats")
    stats = [d async for d in db[CATEGORY_STATS].find()]
    assert actual_stats(stats) == rounded(expected_stats(list(states.values())))


async def test_a_batch_commits_only_after_before_commit_returned(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    """The projector waits there for the last batch's offsets: until they are committed this
    batch is not visible, and if committing them failed, nothing of it is written."""
    log, _ = write_side([create(0, "1.00"), create(1, "2.00")])
    suffix = f"_{uuid.uuid4().hex[:8]}"
    await ensure_indexes(db, suffix)
    writer = ReadModelWriter(db, suffix)
    seen_before_commit: list[int] = []

    async def look() -> None:
        seen_before_commit.append(await db[PRODUCTS + suffix].count_documents({}))

    async def refuse() -> None:
        raise RuntimeError("offsets refused")

    with pytest.raises(RuntimeError, match="offsets refused"):
        await writer.apply(log[:1], refuse)
    assert await db[PRODUCTS + suffix].count_documents({}) == 0
    assert await db[HISTORY + suffix].count_documents({}) == 0
    assert await db[CATEGORY_STATS + suffix].count_documents({}) == 0
    assert (await writer.apply(log, look)).applied == 2
    assert seen_before_commit == [0]
    assert await db[PRODUCTS + suffix].count_documents({}) == 2
