"""The services' MongoDB client: majority writes with journaling, majority reads, whatever the URL says.

On a replica set these are what keep a failover from taking back anything the projector
committed or a client was shown (README, "Running the cluster"). The commands the client sends
are recorded, so the test sees the concerns MongoDB was actually asked for.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import OperationFailure

from shared.adapters import mongo
from shared.settings import InfraSettings


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def first(self, name: str) -> dict[str, Any]:
        return next(command for sent, command in self.sent if sent == name)


@pytest.fixture
async def settings(mongodb_url: str) -> AsyncIterator[InfraSettings]:
    """A scratch database, reached through a URL that asks for the weakest concerns."""
    weak = "w=1&journal=false&readConcernLevel=local"
    url = f"{mongodb_url}{'&' if '?' in mongodb_url else '/?'}{weak}"
    found = InfraSettings(mongodb_url=url, mongodb_database=f"test_concerns_{uuid.uuid4().hex[:8]}")
    yield found
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url)
    await client.drop_database(found.mongodb_database)
    await client.close()


async def test_writes_wait_for_a_journaled_majority_and_reads_take_majority_committed_data(
    settings: InfraSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands = Commands()
    monkeypatch.setattr(
        mongo, "AsyncMongoClient", functools.partial(AsyncMongoClient, event_listeners=[commands])
    )
    client = mongo.connect(settings)
    db = mongo.database(client, settings)
    try:
        await db.things.insert_one({"_id": 1, "n": 0})
        assert await db.things.find_one({"_id": 1}) == {"_id": 1, "n": 0}

        async def bump(session: AsyncClientSession) -> None:
            await db.things.update_one({"_id": 1}, {"$inc": {"n": 1}}, session=session)

        async with client.start_session() as session:
            await session.with_transaction(bump)
    finally:
        await client.close()

    majority = {"w": "majority", "j": True}
    assert commands.first("insert")["writeConcern"] == majority
    assert commands.first("find")["readConcern"] == {"level": "majority"}
    # In a transaction the first statement carries the read concern, the commit the write concern.
    assert commands.first("update")["readConcern"]["level"] == "majority"
    assert commands.first("commitTransaction")["writeConcern"] == majority


async def test_a_dead_clients_open_transaction_is_aborted_despite_the_majority_read_concern(
    settings: InfraSettings,
) -> None:
    """$currentOp refuses any read concern but "local"; the lookup must still work."""
    app_name = f"test-orphan-{uuid.uuid4().hex[:8]}"
    orphan: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_url, appname=app_name
    )
    client = mongo.connect(settings)
    db = mongo.database(client, settings)
    try:
        await db.things.insert_one({"_id": 1})
        left_open = orphan.start_session()
        await left_open.start_transaction()
        await orphan[settings.mongodb_database].things.update_one(
            {"_id": 1}, {"$set": {"by": "orphan"}}, session=left_open
        )

        async def write(session: AsyncClientSession) -> None:
            await db.things.update_one({"_id": 1}, {"$set": {"by": "us"}}, session=session)

        async with client.start_session() as session:
            await session.start_transaction()
            with pytest.raises(OperationFailure, match="WriteConflict"):
                await write(session)  # the orphan's transaction holds the document
            await session.abort_transaction()

        assert await mongo.abort_orphaned_transactions(client, app_name) == 1

        async with client.start_session() as session:
            await session.with_transaction(write)
        assert await db.things.find_one({"_id": 1}) == {"_id": 1, "by": "us"}
    finally:
        await client.close()
        await orphan.close()
