"""The parts of infra/native/cluster.sh that talk to the servers: the replica set and the topics.

Usage:
  python cluster.py mongo PORT,PORT,PORT TIMEOUT_S FOLDER,FOLDER,FOLDER
      Initiate the replica set rs0 over the three mongods on first use, refuse a member whose
      data folder belongs to another replica set, then wait until there is a primary and every
      member is PRIMARY or SECONDARY (a restarted member has caught up enough to vote again).
  python cluster.py kafka BOOTSTRAP BROKERS TOPIC PARTITIONS TIMEOUT_S
      Wait until BROKERS brokers are registered, create the event topic, its dead-letter topic and
      its changelog `<topic>.state` as the services would (shared/adapters/kafka_log.py) with
      replication factor BROKERS, min.insync.replicas 2 and no unclean leader election where
      missing, refuse a topic that exists with fewer replicas, then wait until every partition of
      them (and of Kafka's own offsets and transaction topics) has all its replicas in sync.

Problems are printed as one line on stderr ending in what to do, with exit status 1.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for shared/
from shared.adapters.kafka_log import wanted_topics
from shared.settings import InfraSettings

REPLICA_SET = "rs0"
NOT_YET_INITIALIZED = 94
TOPIC_ALREADY_EXISTS = 36
MIN_INSYNC_REPLICAS = 2
INTERNAL_TOPICS = ("__consumer_offsets", "__transaction_state")


class SetupError(Exception):
    """A wrong setup the operator has to fix; the message says what and how."""


def _client(port: int, timeout_s: float) -> MongoClient[dict[str, Any]]:
    return MongoClient(
        f"mongodb://127.0.0.1:{port}/?directConnection=true",
        serverSelectionTimeoutMS=int(timeout_s * 1000),
    )


def _config(client: MongoClient[dict[str, Any]]) -> dict[str, Any] | None:
    try:
        config: dict[str, Any] = client.admin.command("replSetGetConfig")["config"]
    except OperationFailure as exc:
        if exc.code == NOT_YET_INITIALIZED:
            return None
        raise
    return config


def mongo(ports: list[int], timeout_s: float, folders: list[str]) -> None:
    hosts = [f"127.0.0.1:{port}" for port in ports]
    clients = [_client(port, timeout_s) for port in ports]
    try:
        configs = [_config(client) for client in clients]
        # A data folder initiated as part of another replica set (the single-node stack's, another
        # cluster's, other ports) would either refuse to join or drag its own members in.
        set_ids = Counter(c["settings"]["replicaSetId"] for c in configs if c is not None)
        ours = set_ids.most_common(1)[0][0] if set_ids else None
        for config, folder in zip(configs, folders, strict=True):
            if config is None:
                continue
            members = sorted(m["host"] for m in config["members"])
            foreign = config["settings"]["replicaSetId"] != ours
            if config["_id"] != REPLICA_SET or members != sorted(hosts) or foreign:
                raise SetupError(
                    f"{folder} holds a member of another MongoDB replica set ({config['_id']}: "
                    f"{', '.join(members)}): move it away or delete it (make clean deletes all data)"
                )
        if all(config is None for config in configs):
            members = [{"_id": i, "host": host} for i, host in enumerate(hosts)]
            clients[0].admin.command("replSetInitiate", {"_id": REPLICA_SET, "members": members})
            print(f"mongo: initiated replica set {REPLICA_SET} with {', '.join(hosts)}")
        elif any(config is None for config in configs):
            missing = [f for c, f in zip(configs, folders, strict=True) if c is None]
            print(f"mongo: {', '.join(missing)} empty: the member initial-syncs from the others")
        _wait_healthy(clients[0], hosts, timeout_s)
    finally:
        for client in clients:
            client.close()


def _wait_healthy(client: MongoClient[dict[str, Any]], hosts: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        try:
            status = client.admin.command("replSetGetStatus")
            states = {m["name"]: m["stateStr"] for m in status["members"]}
        except PyMongoError as exc:
            states = {"error": str(exc)}
        ok = [state in ("PRIMARY", "SECONDARY") for state in states.values()]
        if sorted(states) == sorted(hosts) and all(ok) and "PRIMARY" in states.values():
            primary = next(name for name, state in states.items() if state == "PRIMARY")
            print(f"mongo: replica set {REPLICA_SET} healthy, primary {primary}")
            return
        time.sleep(0.5)
    raise SetupError(f"replica set {REPLICA_SET} not healthy after {timeout_s:.0f} s: {states}")


async def kafka(
    bootstrap: str, brokers: int, topic: str, partitions: int, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        registered: list[int] = []
        while len(registered) < brokers:
            registered = [b["node_id"] for b in (await admin.describe_cluster())["brokers"]]
            if time.monotonic() > deadline:
                raise SetupError(f"only brokers {registered} of {brokers} registered")
            await asyncio.sleep(0.5)
        # The topics exactly as the services would create them (shared/adapters/kafka_log.py),
        # with every replica, and a replica that missed records never elected leader.
        settings = InfraSettings(
            kafka_bootstrap_servers=bootstrap,
            events_topic=topic,
            events_partitions=partitions,
            kafka_replication_factor=brokers,
            kafka_min_insync_replicas=MIN_INSYNC_REPLICAS,
        )
        wanted = wanted_topics(settings)
        for new_topic in wanted:
            new_topic.topic_configs["unclean.leader.election.enable"] = "false"
        names = [t.name for t in wanted]
        response = await admin.create_topics(wanted, timeout_ms=30_000)
        for name, code, *_ in response.topic_errors:
            if code not in (0, TOPIC_ALREADY_EXISTS):
                raise SetupError(f"creating topic {name} failed with Kafka error code {code}")
        for described in await admin.describe_topics(names):
            replicas = {len(p["replicas"]) for p in described["partitions"]}
            if replicas and min(replicas) < brokers:
                raise SetupError(
                    f"topic {described['topic']} exists with replication factor {min(replicas)}, "
                    f"the cluster needs {brokers}: raise it with kafka-reassign-partitions (or "
                    "delete the topic, and its events with it), then start again"
                )
        await _wait_in_sync(admin, [*names, *INTERNAL_TOPICS], deadline)
        print(
            f"kafka: {brokers} brokers; topics {', '.join(names)}: replication factor {brokers}, "
            f"min.insync.replicas={MIN_INSYNC_REPLICAS}, unclean.leader.election.enable=false, "
            "every replica in sync"
        )
    finally:
        await admin.close()


async def _wait_in_sync(admin: AIOKafkaAdminClient, topics: list[str], deadline: float) -> None:
    """Until each partition of `topics` that exists has a leader and all its replicas in sync."""
    behind: list[str] = []
    while time.monotonic() < deadline:
        behind = []
        for described in await admin.describe_topics(topics):
            for p in described["partitions"]:
                if p["leader"] < 0 or sorted(p["isr"]) != sorted(p["replicas"]):
                    behind.append(f"{described['topic']}-{p['partition']}")
        if not behind:
            return
        await asyncio.sleep(0.5)
    raise SetupError(f"partitions not fully replicated in time: {', '.join(behind[:10])}")


def main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["mongo"] and len(argv) == 4:
            ports = [int(p) for p in argv[1].split(",")]
            mongo(ports, float(argv[2]), argv[3].split(","))
        elif argv[:1] == ["kafka"] and len(argv) == 6:
            bootstrap, brokers, topic, partitions, timeout = argv[1:]
            asyncio.run(kafka(bootstrap, int(brokers), topic, int(partitions), float(timeout)))
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
