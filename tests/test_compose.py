"""Static checks of docker-compose.yml and the Dockerfile (no Docker engine needed).

They pin what the rest of the project relies on: the topology (KRaft Kafka, replica-set MongoDB),
the published ports, the env var names (the fields of shared/settings.py), and that the compose
stack and the native defaults agree with each other.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from pydantic_settings import BaseSettings

from shared.settings import CommandSettings, InfraSettings, ProjectorSettings, QuerySettings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

# app service -> (its settings class, the field holding its HTTP port)
APP_SERVICES: dict[str, tuple[type[BaseSettings], str]] = {
    "command": (CommandSettings, "command_port"),
    "query": (QuerySettings, "query_port"),
    "projector": (ProjectorSettings, "projector_port"),
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    svcs = compose["services"]
    assert isinstance(svcs, dict)
    return svcs


def env_of(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment as a dict, from either the mapping or the list syntax."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def published(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host_ip, published port, container port) of each port mapping of the service."""
    out: list[tuple[str, int, int]] = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            out.append((str(port.get("host_ip", "")), int(port["published"]), int(port["target"])))
            continue
        parts = str(port).split("/")[0].split(":")
        assert len(parts) in (2, 3), f"port {port!r}: expected [ip:]published:target"
        ip = parts[0] if len(parts) == 3 else ""
        out.append((ip, int(parts[-2]), int(parts[-1])))
    return out


def healthcheck_text(service: dict[str, Any]) -> str:
    test = (service.get("healthcheck") or {}).get("test")
    return " ".join(test) if isinstance(test, list) else str(test or "")


def one_shot_services(services: dict[str, Any]) -> set[str]:
    """Services others wait on to *complete*: they exit, so they have no healthcheck."""
    done: set[str] = set()
    for svc in services.values():
        deps = svc.get("depends_on") or {}
        if isinstance(deps, dict):
            done |= {
                name
                for name, dep in deps.items()
                if (dep or {}).get("condition") == "service_completed_successfully"
            }
    return done


def test_services_exist(services: dict[str, Any]) -> None:
    assert {"kafka", "kafka-init", "mongo", "command", "projector", "query"} <= services.keys()


def test_kafka_is_official_image_in_kraft_mode(services: dict[str, Any]) -> None:
    kafka = services["kafka"]
    assert re.fullmatch(r"apache/kafka:\d+\.\d+\.\d+", kafka["image"]), kafka["image"]
    env = env_of(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not any(k.startswith("KAFKA_ZOOKEEPER") for k in env)
    node_id = env["KAFKA_NODE_ID"]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{node_id}@kafka:9093"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "1"
    assert env["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == "0"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"].lower() == "false"


def test_kafka_listeners_serve_network_and_host(services: dict[str, Any]) -> None:
    env = env_of(services["kafka"])

    def pairs(var: str, sep: str) -> dict[str, str]:
        return dict(item.split(sep, 1) for item in env[var].split(","))

    listeners = pairs("KAFKA_LISTENERS", "://")
    advertised = pairs("KAFKA_ADVERTISED_LISTENERS", "://")
    protocols = pairs("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", ":")
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]

    assert set(listeners) == set(advertised) | {controller}
    assert set(protocols) == set(listeners)
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    # each advertised listener is bound on the same port
    for name, address in advertised.items():
        assert listeners[name].rsplit(":", 1)[1] == address.rsplit(":", 1)[1], name
    assert listeners[controller].rsplit(":", 1)[1] == "9093"

    addresses = set(advertised.values())
    # the containers' bootstrap address ...
    app_bootstrap = {env_of(services[name])["KAFKA_BOOTSTRAP_SERVERS"] for name in APP_SERVICES}
    assert app_bootstrap == {"kafka:29092"}
    assert app_bootstrap <= addresses
    # ... and the host's: the native default, published on the same port
    host_default = InfraSettings.model_fields["kafka_bootstrap_servers"].default
    assert host_default == "127.0.0.1:9092"
    assert host_default in addresses
    assert ("127.0.0.1", 9092, 9092) in published(services["kafka"])
    # the healthcheck talks to the broker on its internal listener
    assert "kafka-broker-api-versions.sh" in healthcheck_text(services["kafka"])
    assert "--bootstrap-server localhost:29092" in healthcheck_text(services["kafka"])


def test_kafka_init_creates_the_topics(services: dict[str, Any]) -> None:
    init = services["kafka-init"]
    assert init["image"] == services["kafka"]["image"]
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"
    command = init["command"]
    script = command if isinstance(command, str) else "\n".join(command)
    script = script.replace("\\\n", " ")
    created: dict[str, list[str]] = {}
    for line in script.splitlines():
        if "kafka-topics.sh" in line and "--create" in line:
            args = shlex.split(line)
            created[args[args.index("--topic") + 1]] = args

    app_env = env_of(services["command"])
    topic = app_env["EVENTS_TOPIC"]
    assert topic == InfraSettings.model_fields["events_topic"].default
    dlq = f"{topic}.dlq"
    assert set(created) == {topic, dlq}
    partitions = {name: args[args.index("--partitions") + 1] for name, args in created.items()}
    assert partitions == {topic: app_env["EVENTS_PARTITIONS"], dlq: "3"}
    default_partitions = InfraSettings.model_fields["events_partitions"].default
    assert app_env["EVENTS_PARTITIONS"] == str(default_partitions)
    for args in created.values():
        assert "--if-not-exists" in args
        assert args[args.index("--config") + 1] == "retention.ms=-1"
        assert args[args.index("--bootstrap-server") + 1] == "kafka:29092"


def test_mongo_is_a_replica_set_reachable_from_host_and_network(services: dict[str, Any]) -> None:
    mongo = services["mongo"]
    assert re.fullmatch(r"mongo:\d+(\.\d+)*", mongo["image"]), mongo["image"]
    command = mongo["command"]
    args = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    assert args[args.index("--replSet") + 1] == "rs0"
    assert "--bind_ip_all" in args
    assert ("127.0.0.1", 27017, 27017) in published(mongo)

    check = healthcheck_text(mongo)
    assert "rs.initiate" in check and "isWritablePrimary" in check
    assert re.search(r"_id:\s*'rs0'", check)
    member = re.search(r"host:\s*'([^']+)'", check)
    assert member, check
    member_host = member.group(1)

    # The host uses the native default URL with replicaSet=rs0: the driver then connects to the
    # member host from the replica-set config, which must be the published address.
    host_url = urlsplit(InfraSettings.model_fields["mongodb_url"].default)
    assert parse_qs(host_url.query).get("replicaSet") == ["rs0"]
    assert host_url.netloc == member_host

    # The containers reach mongo by its service name; since that is not the member host, they
    # must not let the driver switch to the member host (127.0.0.1 is their own container).
    for name in APP_SERVICES:
        url = urlsplit(env_of(services[name])["MONGODB_URL"])
        assert url.scheme == "mongodb"
        assert url.netloc == "mongo:27017"
        if url.netloc != member_host:
            assert parse_qs(url.query).get("directConnection") == ["true"], name


def test_published_ports_are_exactly_the_expected_ones(services: dict[str, Any]) -> None:
    ports = sorted(p for svc in services.values() for _, p, _ in published(svc))
    assert ports == [8001, 8002, 8003, 9092, 27017]
    # nothing has authentication: published on the loopback interface only
    assert {ip for svc in services.values() for ip, _, _ in published(svc)} == {"127.0.0.1"}


def test_every_long_running_service_has_a_healthcheck(services: dict[str, Any]) -> None:
    one_shot = one_shot_services(services)
    assert one_shot == {"kafka-init"}
    for name, svc in services.items():
        if name in one_shot:
            continue
        check = svc.get("healthcheck")
        assert check and not check.get("disable"), name
        test = check["test"]
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL"), name


def test_app_services_share_one_image_built_from_the_dockerfile(services: dict[str, Any]) -> None:
    builds = set()
    images = set()
    for name in APP_SERVICES:
        build = services[name]["build"]
        if isinstance(build, str):
            build = {"context": build}
        dockerfile = Path(
            os.path.normpath(ROOT / build["context"] / build.get("dockerfile", "Dockerfile"))
        )
        builds.add(dockerfile)
        images.add(services[name]["image"])
        command = services[name]["command"]
        assert command == ["python", "-m", f"services.{name}"], name
    assert builds == {DOCKERFILE}
    assert len(images) == 1


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_app_service_environment_and_dependencies(services: dict[str, Any], name: str) -> None:
    svc = services[name]
    settings_cls, port_field = APP_SERVICES[name]
    env = env_of(svc)
    assert env["KAFKA_BOOTSTRAP_SERVERS"]
    assert env["MONGODB_URL"]
    assert env["HOST"] == "0.0.0.0"

    # the same names as the native configuration: the settings fields, uppercased, no prefix
    assert settings_cls.model_config.get("env_prefix", "") == ""
    assert not settings_cls.model_config.get("case_sensitive", False)
    fields = {field.upper() for field in settings_cls.model_fields}
    assert set(env) <= fields, set(env) - fields

    # one port everywhere: the native default, the env var, the mapping and the healthcheck
    port = settings_cls.model_fields[port_field].default
    assert env[port_field.upper()] == str(port)
    assert published(svc) == [("127.0.0.1", port, port)]
    assert f"http://127.0.0.1:{port}/ready" in healthcheck_text(svc)

    deps = svc["depends_on"]
    assert deps["kafka-init"]["condition"] == "service_completed_successfully"
    assert deps["mongo"]["condition"] == "service_healthy"


def test_dockerfile_installs_the_locked_dependencies_as_non_root() -> None:
    text = DOCKERFILE.read_text()
    instructions = [
        line.strip()
        for line in text.replace("\\\n", " ").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert instructions[0] == "FROM python:3.11-slim"
    assert "RUN pip install --no-cache-dir uv==0.13.9" in instructions

    syncs = [line for line in instructions if line.startswith("RUN") and "uv sync" in line]
    assert len(syncs) == 2, syncs
    for sync in syncs:
        assert "--frozen" in sync.split() and "--no-dev" in sync.split(), sync
    # dependencies layer first (cached across source edits), the project after the sources
    assert "--no-install-project" in syncs[0].split()
    assert "--no-install-project" not in syncs[1].split()
    first_sync = instructions.index(syncs[0])
    second_sync = instructions.index(syncs[1])
    copies = [(i, line) for i, line in enumerate(instructions) if line.startswith("COPY")]
    lock_copy = next(i for i, line in copies if "uv.lock" in line and "pyproject.toml" in line)
    assert lock_copy < first_sync
    for source in ("shared/", "services/", "schema/"):
        at = next(i for i, line in copies if line.split()[1] == source)
        assert first_sync < at < second_sync, source

    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), users
    env = " ".join(line for line in instructions if line.startswith("ENV "))
    assert "PATH=/app/.venv/bin:$PATH" in env.split()
    assert "PYTHONUNBUFFERED=1" in env.split()


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".run", ".git", "bench/results"} <= ignored
