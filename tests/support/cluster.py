"""A private three-node Kafka cluster and three-member replica set, for the cluster fault tests.

The same recipe as `make up STACK=cluster` (infra/native/cluster.sh), on free ports and with its
own state folder under .run/, so it never meets the shared test infrastructure (19092, 27117) or a
developer's stack. Started once for the fault suite; each test breaks one node and `heal()`
brings it back (a restarted node is waited for until it is in sync again).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.errors import KafkaError
from pymongo import MongoClient

from tests.support.infra import NATIVE, ROOT
from tests.support.private_infra import TOOLS
from tests.support.services import free_port

NODES = (1, 2, 3)
T = TypeVar("T")


@dataclass(frozen=True, order=True)
class Partition:
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


class NativeCluster:
    def __init__(self) -> None:
        self.run_dir = ROOT / ".run" / f"test-cluster-{uuid.uuid4().hex[:8]}"
        self.run_dir.mkdir(parents=True)
        TOOLS.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "tools").symlink_to(TOOLS)
        self.kafka_ports = [free_port() for _ in NODES]
        self.controller_ports = [free_port() for _ in NODES]
        self.mongo_ports = [free_port() for _ in NODES]
        self.env = {
            **os.environ,
            "PYTHON": str(ROOT / ".venv" / "bin" / "python"),
            "RUN_DIR": str(self.run_dir),
            "KAFKA_CLUSTER_PORTS": ",".join(map(str, self.kafka_ports)),
            "KAFKA_CLUSTER_CONTROLLER_PORTS": ",".join(map(str, self.controller_ports)),
            "MONGO_CLUSTER_PORTS": ",".join(map(str, self.mongo_ports)),
        }

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.kafka_ports)

    @property
    def mongodb_url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.mongo_ports)
        return f"mongodb://{hosts}/?replicaSet=rs0"

    @property
    def service_env(self) -> dict[str, str]:
        """What points a service at the cluster (the settings `cluster.sh env` prints)."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "MONGODB_URL": self.mongodb_url,
            "KAFKA_REPLICATION_FACTOR": "3",
            "KAFKA_MIN_INSYNC_REPLICAS": "2",
        }

    def _script(self, *args: str) -> float:
        """Seconds `cluster.sh ARGS` took; its output in the error if it failed."""
        started = time.monotonic()
        done = subprocess.run(
            [NATIVE / "cluster.sh", *args], env=self.env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"cluster.sh {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return time.monotonic() - started

    def start(self) -> float:
        return self._script("start")

    def heal(self) -> float:
        """Start whatever node is not running and wait until every node is in sync again; the
        seconds that took. A frozen (SIGSTOPped) node is thawed first."""
        for kind in ("kafka", "mongo"):
            for node in NODES:
                pid = self.pid(kind, node)
                if pid is not None:
                    os.kill(pid, signal.SIGCONT)
        return self.start()

    def kill(self) -> None:
        """SIGKILL every node: the data is scratch, and a clean stop of three brokers takes
        about 15 s. `heal()` would start them again from their data."""
        for kind in ("kafka", "mongo"):
            for node in NODES:
                pid = self.pid(kind, node)
                if pid is not None:
                    os.kill(pid, signal.SIGKILL)

    def remove(self) -> None:
        try:
            self.kill()
        finally:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def pid(self, kind: str, node: int) -> int | None:
        """The pid of node `node`'s Kafka or MongoDB process if it is alive."""
        file = self.run_dir / "pids" / f"{kind}-{node}.pid"
        try:
            pid = int(file.read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        status = Path(f"/proc/{pid}/status")
        if status.exists() and "zombie" in status.read_text():
            return None
        return pid

    def signal(self, kind: str, node: int, sig: signal.Signals) -> None:
        pid = self.pid(kind, node)
        assert pid is not None, f"{kind}-{node} is not running"
        os.kill(pid, sig)
        if sig == signal.SIGKILL:
            deadline = time.monotonic() + 10
            while self.pid(kind, node) is not None and time.monotonic() < deadline:
                time.sleep(0.05)

    def log(self, name: str) -> Path:
        return self.run_dir / "logs" / f"{name}.log"

    def create_topics(self, topic: str, partitions: int = 6) -> None:
        """The event, dead-letter and changelog topics, as `make up STACK=cluster` makes them."""
        done = subprocess.run(
            [
                self.env["PYTHON"],
                NATIVE / "cluster.py",
                "kafka",
                self.bootstrap,
                "3",
                topic,
                str(partitions),
                "60",
            ],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    async def _ask(
        self, question: Callable[[AIOKafkaAdminClient], Awaitable[T]], avoid: int | None = None
    ) -> T:
        """`question` put to the cluster through a fresh admin client, bootstrapped from the
        brokers other than `avoid`.

        The admin client asks a node from its metadata, which goes on listing a dead or frozen
        broker until the controller fences it; a request that meets it fails (at once, or after
        a short timeout for a frozen one) and is asked again elsewhere.
        """
        bootstrap = ",".join(
            f"127.0.0.1:{port}"
            for node, port in zip(NODES, self.kafka_ports, strict=True)
            if node != avoid
        )
        for attempt in range(50):
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=1500)
            try:
                await admin.start()
                return await question(admin)
            except KafkaError:
                if attempt == 49:
                    raise
                await asyncio.sleep(0.2)
            finally:
                await admin.close()
        raise AssertionError("unreachable")

    async def partitions(self, topic: str, avoid: int | None = None) -> list[Partition]:
        """Leader, replicas and ISR of each partition, as the brokers' metadata says."""
        (described,) = await self._ask(lambda admin: admin.describe_topics([topic]), avoid)
        return sorted(
            Partition(p["partition"], p["leader"], tuple(p["replicas"]), tuple(p["isr"]))
            for p in described["partitions"]
        )

    async def group_members(self, group: str) -> dict[str, list[int]]:
        """Member id -> the partitions assigned to it, of a consumer group (static members' ids
        begin with their group.instance.id)."""
        (response,) = await self._ask(lambda admin: admin.describe_consumer_groups([group]))
        (described,) = response.groups
        members = described[5] if described[0] == 0 else []
        return {
            member[0]: sorted(
                p
                for _, partitions in ConsumerProtocolMemberAssignment.decode(member[4]).assignment
                for p in partitions
            )
            if member[4]  # empty while the group rebalances
            else []
            for member in members
        }

    async def wait_for_leaders(
        self, topic: str, without: int, within_s: float = 60
    ) -> list[Partition]:
        """Until no partition of `topic` is led by broker `without` (or leaderless)."""
        deadline = time.monotonic() + within_s
        while True:
            found = await self.partitions(topic, avoid=without)
            if all(p.leader not in (without, -1) for p in found):
                return found
            assert time.monotonic() < deadline, f"still led by {without} or leaderless: {found}"
            await asyncio.sleep(0.2)

    def mongo_primary(self) -> int | None:
        """The node number of the replica set's primary, as the members see it (None: none)."""
        for node, port in zip(NODES, self.mongo_ports, strict=True):
            if self.pid("mongo", node) is None:
                continue
            client: MongoClient[dict[str, Any]] = MongoClient(
                f"mongodb://127.0.0.1:{port}/?directConnection=true",
                serverSelectionTimeoutMS=1000,
                connectTimeoutMS=1000,
            )
            try:
                hello = client.admin.command("hello")
            except Exception:
                continue
            finally:
                client.close()
            if hello.get("isWritablePrimary"):
                return node
        return None
