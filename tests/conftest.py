"""Session fixtures: real Kafka and MongoDB, found or started once per test run."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient, MongoClient
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.contract import topic_problems
from tests.support.infra import Infra, discover

_summary: list[str] = []


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    found = discover()
    client: MongoClient[dict[str, object]] = MongoClient(
        found.mongodb_url, serverSelectionTimeoutMS=10_000
    )
    try:
        version = client.admin.command("buildInfo")["version"]
        replica_set = client.admin.command("replSetGetStatus")["set"]
    finally:
        client.close()
    _summary[:] = [
        f"found by: {found.source}",
        f"Kafka: {found.kafka_version} at {found.kafka_bootstrap_servers}",
        f"MongoDB {version}, replica set {replica_set}, at {found.mongodb_url}",
    ]
    try:
        yield found
    finally:
        found.close()


@pytest.fixture(scope="session")
def mongodb_url(infra: Infra) -> str:
    return infra.mongodb_url


@pytest.fixture(scope="session")
def kafka_bootstrap(infra: Infra) -> str:
    return infra.kafka_bootstrap_servers


@pytest.fixture(scope="session")
async def contract_checked_topics(infra: Infra) -> AsyncIterator[list[str]]:
    """Event topics of this test run; at its end, every event in them must follow the published
    contract (schema/asyncapi.yaml, schema/events/), whichever test or service wrote it."""
    topics: list[str] = []
    yield topics
    checked, problems = await topic_problems(infra.kafka_bootstrap_servers, topics)
    _summary.append(
        f"event contract: {checked} events in {len(topics)} topics checked against "
        f"schema/asyncapi.yaml, {len(problems)} broke it"
    )
    assert not problems, "events that break schema/asyncapi.yaml:\n" + "\n".join(problems[:20])


@pytest.fixture
def isolated_env(infra: Infra, contract_checked_topics: list[str]) -> dict[str, str]:
    """Settings for one test's own topic, database, consumer group and transactional id."""
    run = uuid.uuid4().hex[:10]
    contract_checked_topics.append(f"test-events-{run}")
    return {
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "MONGODB_URL": infra.mongodb_url,
        "MONGODB_DATABASE": f"test_{run}",
        "EVENTS_TOPIC": f"test-events-{run}",
        "COMMAND_GROUP_ID": f"test-command-{run}",
        "PROJECTOR_GROUP_ID": f"test-projector-{run}",
        "PROJECTOR_INSTANCE_ID": f"test-projector-{run}",
    }


@pytest.fixture
async def db(isolated_env: dict[str, str]) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """The test's own read-model database, dropped afterwards."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        isolated_env["MONGODB_URL"], tz_aware=True
    )
    yield client[isolated_env["MONGODB_DATABASE"]]
    await client.drop_database(isolated_env["MONGODB_DATABASE"])
    await client.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _summary:
        terminalreporter.section("infrastructure")
        for line in _summary:
            terminalreporter.write_line(line)
