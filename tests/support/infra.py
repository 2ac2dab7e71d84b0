"""Finding real Kafka and MongoDB for the tests, in the order docs/architecture.md gives
("How the tests find Kafka and MongoDB").

1. `KAFKA_BOOTSTRAP_SERVERS` and `MONGODB_URL` from the environment;
2. testcontainers, when a Docker engine answers;
3. the native recipe of infra/native, on ports beside a `make up` stack (19092, 27117) and with
   its own state folder (.run/test), so tests never touch a developer's data.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NATIVE = ROOT / "infra" / "native"
TEST_ENV = {
    "RUN_DIR": str(ROOT / ".run" / "test"),
    "KAFKA_PORT": "19092",
    "KAFKA_CONTROLLER_PORT": "19093",
    "MONGO_PORT": "27117",
    "PYTHON": str(ROOT / ".venv" / "bin" / "python"),
}


@dataclass
class Infra:
    kafka_bootstrap_servers: str
    mongodb_url: str
    source: str
    kafka_version: str = "unknown"
    _cleanups: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for cleanup in reversed(self._cleanups):
            cleanup()


def discover() -> Infra:
    kafka, mongo = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("MONGODB_URL")
    if kafka and mongo:
        return Infra(kafka, mongo, "environment variables")
    if _docker_engine():
        return _testcontainers()
    return _native()


def _docker_engine() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _native() -> Infra:
    env = {**os.environ, **TEST_ENV}
    cleanups = []
    for script in ("kafka.sh", "mongo.sh"):
        was_running = (
            subprocess.run([NATIVE / script, "status"], env=env, capture_output=True).returncode
            == 0
        )
        subprocess.run([NATIVE / script, "start"], env=env, check=True)
        if not was_running and not os.environ.get("KEEP_TEST_INFRA"):
            cleanups.append(
                lambda s=script: subprocess.run([NATIVE / s, "stop"], env=env, check=False)
            )
    version = subprocess.run(
        [NATIVE / "kafka.sh", "version"], env=env, capture_output=True, text=True
    ).stdout.strip()
    return Infra(
        f"127.0.0.1:{TEST_ENV['KAFKA_PORT']}",
        f"mongodb://127.0.0.1:{TEST_ENV['MONGO_PORT']}/?replicaSet=rs0",
        "native (infra/native, state in .run/test)",
        kafka_version=version,
        _cleanups=cleanups,
    )


def _testcontainers() -> Infra:  # pragma: no cover - needs a Docker engine, absent on our machines
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs
    from testcontainers.kafka import KafkaContainer

    kafka = KafkaContainer("apache/kafka:3.9.1").with_kraft()
    kafka.start()
    mongo = (
        DockerContainer("mongo:6.0")
        .with_command("--replSet rs0 --bind_ip_all")
        .with_exposed_ports(27017)
    )
    mongo.start()
    wait_for_logs(mongo, "Waiting for connections")
    port = mongo.get_exposed_port(27017)
    mongo.exec(
        "mongosh --quiet --eval \"rs.initiate({_id:'rs0',members:[{_id:0,host:'localhost:27017'}]})\""
    )
    return Infra(
        kafka.get_bootstrap_server(),
        f"mongodb://{mongo.get_container_host_ip()}:{port}/?directConnection=true",
        "testcontainers",
        kafka_version="Apache Kafka 3.9.1 (apache/kafka image)",
        _cleanups=[kafka.stop, mongo.stop],
    )
