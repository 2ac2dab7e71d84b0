"""Fixtures of the fault-injection suite, and the hooks that write its outcome table.

Each test records what it checked and measured through `outcome_table`; when a run executed
every test of this folder and all of them passed, the table in docs/reliability.md is rewritten
from those rows. A partial run (one file, `-k`, `--lf`, a failure, an interrupt) leaves the
committed table alone, so it always describes one whole passing run.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from tests.faults.outcome_table import DOCUMENT, OutcomeTable, Row, replace_table
from tests.support.cluster import NativeCluster
from tests.support.private_infra import PrivateKafka, PrivateMongo
from tests.support.services import Service

HERE = Path(__file__).resolve().parent
# Command-service instances the cluster tests write through (each owns some of the partitions
# and forwards the rest; the load is spread over all of them).
COMMAND_INSTANCES = 2

_rows: dict[str, list[Row]] = {}  # test node id -> its rows, in the order recorded
_passed: set[str] = set()
_failed: set[str] = set()
_deselected: set[str] = set()
_verdict: list[str] = []
_cluster_started: list[str] = []
_clusters: list[NativeCluster] = []


@pytest.fixture
def private_kafka(isolated_env: dict[str, str]) -> Iterator[PrivateKafka]:
    """A broker of the test's own, to stop and start; the test's topic exists on it."""
    kafka = PrivateKafka(isolated_env["EVENTS_TOPIC"])
    try:
        kafka.start()
        yield kafka
    finally:
        kafka.remove()


@pytest.fixture
def private_mongo(isolated_env: dict[str, str]) -> Iterator[PrivateMongo]:
    """A one-member replica set of the test's own, to stop and start."""
    mongo = PrivateMongo()
    try:
        mongo.start()
        yield mongo
    finally:
        mongo.remove()


@pytest.fixture
async def private_db(
    private_mongo: PrivateMongo, isolated_env: dict[str, str]
) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """The test's read-model database on its private MongoDB (removed with the server)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        private_mongo.url, tz_aware=True, serverSelectionTimeoutMS=30_000
    )
    yield client[isolated_env["MONGODB_DATABASE"]]
    await client.close()


@pytest.fixture(scope="session")
def cluster() -> Iterator[NativeCluster]:
    """Three Kafka nodes and three mongods (infra/native/cluster.sh), once for the whole run.

    Its nodes are killed as soon as the last test that uses it is done (see
    pytest_runtest_teardown), so that six idle servers do not slow the rest of the run.
    """
    found = NativeCluster()
    _clusters.append(found)
    try:
        seconds = found.start()
        _cluster_started[:] = [
            f"cluster of 3 Kafka nodes and 3 mongods started in {seconds:.1f} s "
            f"(Kafka {found.bootstrap}, MongoDB {found.mongodb_url})"
        ]
        yield found
    finally:
        _clusters.remove(found)
        found.remove()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """After the last test in a row that uses the cluster, and after its fixtures' teardown,
    kill the cluster's nodes (a later test that needs it again gets them restarted by
    `cluster_env`)."""
    try:
        yield
    finally:
        uses = "cluster" in getattr(item, "fixturenames", ())
        next_uses = nextitem is not None and "cluster" in getattr(nextitem, "fixturenames", ())
        if uses and not next_uses:
            for found in _clusters:
                found.kill()


@pytest.fixture
def cluster_env(cluster: NativeCluster) -> dict[str, str]:
    """A healthy cluster (a node an earlier test broke is back and in sync) and a test's own
    topics (replication factor 3, min.insync.replicas 2), database and consumer group."""
    cluster.heal()
    run = uuid.uuid4().hex[:10]
    topic = f"test-cluster-events-{run}"
    cluster.create_topics(topic)
    return {
        **cluster.service_env,
        "MONGODB_DATABASE": f"test_cluster_{run}",
        "EVENTS_TOPIC": topic,
        "COMMAND_GROUP_ID": f"test-command-{run}",
        "PROJECTOR_GROUP_ID": f"test-projector-{run}",
        # no PROJECTOR_INSTANCE_ID: each projector derives its own from its port
    }


def command_services(env: dict[str, str]) -> list[Service]:
    """COMMAND_INSTANCES command services (not started), each advertising its own address."""
    services = [Service("command", env) for _ in range(COMMAND_INSTANCES)]
    for service in services:
        service.env["COMMAND_ADVERTISED_URL"] = service.url
    return services


@pytest.fixture
async def cluster_db(
    cluster_env: dict[str, str],
) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """The test's read-model database on the cluster's replica set, dropped afterwards."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        cluster_env["MONGODB_URL"], tz_aware=True, serverSelectionTimeoutMS=30_000
    )
    yield client[cluster_env["MONGODB_DATABASE"]]
    try:
        await client.drop_database(cluster_env["MONGODB_DATABASE"])
    finally:
        await client.close()


@pytest.fixture
def outcome_table(request: pytest.FixtureRequest) -> OutcomeTable:
    return OutcomeTable(_rows.setdefault(request.node.nodeid, []))


def _ours(path: Path | str) -> bool:
    return Path(path).resolve().is_relative_to(HERE)


def pytest_deselected(items: list[pytest.Item]) -> None:
    _deselected.update(item.nodeid for item in items if _ours(item.path))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not _ours(report.fspath):
        return
    if report.failed:
        _failed.add(report.nodeid)
    elif report.when == "call" and report.passed:
        _passed.add(report.nodeid)


def pytest_sessionfinish(session: pytest.Session) -> None:
    items = [item for item in session.items if _ours(item.path)]
    files = {Path(item.path).resolve() for item in items}
    if files != set(HERE.glob("test_*.py")) or _deselected:
        _verdict[:] = ["not rewritten: only part of tests/faults was selected"]
    elif _failed or not {item.nodeid for item in items} <= _passed:
        _verdict[:] = ["not rewritten: not every test of tests/faults passed"]
    else:
        rows = [row for item in items for row in _rows.get(item.nodeid, [])]
        old = DOCUMENT.read_text(encoding="utf-8")
        try:
            new = replace_table(old, rows)
        except ValueError as exc:  # tests/unit/test_outcome_table.py fails on this too
            _verdict[:] = [f"not rewritten: {exc}"]
            return
        if new != old:
            DOCUMENT.write_text(new, encoding="utf-8")
        _verdict[:] = [f"rewritten from this run: {len(rows)} rows from {len(items)} tests"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _verdict or _cluster_started:
        terminalreporter.section("fault outcome table")
        for line in _cluster_started:
            terminalreporter.write_line(line)
        if _verdict:
            terminalreporter.write_line(f"{DOCUMENT.relative_to(HERE.parents[1])}: {_verdict[0]}")
        if _verdict and not _verdict[0].startswith("rewritten"):  # what this run measured
            for row in (row for rows in _rows.values() for row in rows):
                terminalreporter.write_line(f"{row.fault} | {row.check} | {row.result}")
