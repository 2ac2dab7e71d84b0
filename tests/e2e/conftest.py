"""The whole stack as real processes: command, projector and query service on their own topic and database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.infra import Infra
from tests.support.services import Service


@dataclass
class Stack:
    command: Service
    projector: Service
    query: Service
    env: dict[str, str]


@pytest.fixture(scope="module")
def stack(infra: Infra, contract_checked_topics: list[str]) -> Iterator[Stack]:
    import uuid

    run = uuid.uuid4().hex[:10]
    contract_checked_topics.append(f"e2e-events-{run}")
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "MONGODB_URL": infra.mongodb_url,
        "MONGODB_DATABASE": f"e2e_{run}",
        "EVENTS_TOPIC": f"e2e-events-{run}",
        "COMMAND_GROUP_ID": f"e2e-command-{run}",
        "PROJECTOR_GROUP_ID": f"e2e-projector-{run}",
        "PROJECTOR_INSTANCE_ID": f"e2e-projector-{run}",
    }
    services = [Service(name, env) for name in ("command", "projector", "query")]
    try:
        for service in services:
            service.start()
        yield Stack(*services, env=env)
    finally:
        for service in services:
            service.stop()
