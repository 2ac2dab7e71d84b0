"""docker-compose.yml, checked without a Docker engine.

- valid for the official Compose Specification JSON Schema (the copy check-jsonschema vendors,
  pinned in uv.lock);
- every setting of shared/settings.py reaches every service that reads it, with the value of
  the environment `docker compose` runs in, or else the default of shared/settings.py;
- the topology: the single node (KRaft Kafka, one-member replica set), the numbered command
  instances, and the `cluster` profile (three KRaft voters, a three-member replica set, two
  instances of each service); its ports, addresses and replication settings;
- images pinned by digest, MongoDB not past its end of life, and the versions the README states.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from pydantic_settings import BaseSettings

from shared.adapters.kafka_log import wanted_topics
from shared.settings import CommandSettings, InfraSettings, ProjectorSettings, QuerySettings
from tests.support import compose_model

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"

# app service -> (its settings class, its HTTP port field, the container port)
KINDS: dict[str, tuple[type[BaseSettings], str, int]] = {
    "command": (CommandSettings, "command_port", 8001),
    "query": (QuerySettings, "query_port", 8002),
    "projector": (ProjectorSettings, "projector_port", 8003),
}
SINGLE_APPS = {"command": "command", "command-2": "command", "command-3": "command"} | {
    "query": "query",
    "projector": "projector",
}
CLUSTER_APPS = {
    f"cluster-{kind}-{n}": kind for kind in ("command", "query", "projector") for n in (1, 2)
}
APPS = SINGLE_APPS | CLUSTER_APPS
CLUSTER_KAFKA = ["cluster-kafka-1", "cluster-kafka-2", "cluster-kafka-3"]
CLUSTER_MONGO = ["cluster-mongo-1", "cluster-mongo-2", "cluster-mongo-3"]

# Settings the lead's partitioned write side adds (issue 13); until they are fields of
# CommandSettings, the compose file may already carry them. COMMAND_TRANSACTIONAL_ID goes away
# with it and is deliberately not passed any more.
COMING = {
    "COMMAND_GROUP_ID",
    "COMMAND_ADVERTISED_URL",
    "COMMAND_ANSWERS_PER_PRODUCT",
    "COMMAND_SESSION_TIMEOUT_MS",
    "COMMAND_HEARTBEAT_INTERVAL_MS",
}
GOING = {"COMMAND_TRANSACTIONAL_ID"}


def fields(settings_cls: type[BaseSettings]) -> set[str]:
    # the env var names: the fields, uppercased, no prefix
    assert settings_cls.model_config.get("env_prefix", "") == ""
    assert not settings_cls.model_config.get("case_sensitive", False)
    return {name.upper() for name in settings_cls.model_fields}


def set_here(service: str) -> set[str]:
    """Settings a service's compose entry sets itself rather than passing them through."""
    kind = APPS[service]
    names = {"KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URL", "HOST", f"{kind.upper()}_PORT"}
    if kind == "command":
        names.add("COMMAND_ADVERTISED_URL")
    if service.startswith("cluster-"):
        names |= {"KAFKA_REPLICATION_FACTOR", "KAFKA_MIN_INSYNC_REPLICAS"}
        if kind == "projector":
            names.add("PROJECTOR_INSTANCE_ID")
    return names


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def model() -> compose_model.Model:
    """The file as Compose resolves it with no variable set: every default."""
    return compose_model.load(COMPOSE_FILE, {})


def ports(service: compose_model.Service) -> list[tuple[str, int, int]]:
    return [(p.host_ip, p.published, p.target) for p in service.ports]


def healthcheck_text(service: compose_model.Service) -> str:
    test = (service.raw.get("healthcheck") or {}).get("test")
    return " ".join(test) if isinstance(test, list) else str(test or "")


# ------------------------------------------------------------------------------- the schema


def check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("check-jsonschema")),
            "--builtin-schema",
            "vendor.compose-spec",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_valid_for_the_compose_specification_schema() -> None:
    done = check_jsonschema(COMPOSE_FILE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "validation done" in done.stdout


def test_the_schema_check_refuses_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    text = COMPOSE_FILE.read_text()
    broken.write_text(text.replace("restart: on-failure:5", "restarts: on-failure:5", 1))
    done = check_jsonschema(broken)
    assert done.returncode == 1, done.stdout
    assert "restarts" in done.stdout


def test_no_key_is_in_two_anchors_merged_into_one_mapping() -> None:
    """On a key merged from several anchors, YAML libraries disagree on which value wins (PyYAML
    and Compose do), so the file never relies on it."""
    root = yaml.compose(COMPOSE_FILE.read_text(), Loader=yaml.SafeLoader)

    def keys(node: yaml.MappingNode) -> set[str]:
        out: set[str] = set()
        for key, value in node.value:
            if key.tag == "tag:yaml.org,2002:merge":
                sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
                for source in sources:
                    out |= keys(source)
            else:
                out.add(key.value)
        return out

    merges = 0
    for node in _mappings(root):
        for key, value in node.value:
            if key.tag == "tag:yaml.org,2002:merge" and isinstance(value, yaml.SequenceNode):
                merges += 1
                seen: set[str] = set()
                for source in value.value:
                    overlap = seen & keys(source)
                    assert not overlap, (key.start_mark, overlap)
                    seen |= keys(source)
    assert merges >= len(APPS)


def _mappings(node: yaml.Node) -> list[yaml.MappingNode]:
    found: list[yaml.MappingNode] = []
    todo = [node]
    while todo:
        current = todo.pop()
        if isinstance(current, yaml.MappingNode):
            found.append(current)
            todo.extend(value for _, value in current.value)
        elif isinstance(current, yaml.SequenceNode):
            todo.extend(current.value)
    return found


# ------------------------------------------------------------------------------ the settings


@pytest.mark.parametrize("service", sorted(APPS))
def test_every_setting_reaches_the_service(model: compose_model.Model, service: str) -> None:
    kind = APPS[service]
    settings_cls, _, _ = KINDS[kind]
    declared = model.services[service].raw["environment"]
    wanted = fields(settings_cls) - GOING
    allowed = fields(settings_cls) | (COMING if kind == "command" else set())
    assert wanted <= set(declared), f"not passed to {service}: {wanted - set(declared)}"
    assert set(declared) <= allowed, f"not settings: {set(declared) - allowed}"
    assert not GOING & set(declared)
    explicit = {name for name, value in declared.items() if value is not None}
    assert explicit == set_here(service)


# Settings that take only some strings: a valid one that is not the default.
CONSTRAINED_SAMPLES = {
    "OTEL_TRACES_EXPORTER": "console",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
}


@pytest.mark.parametrize("service", sorted(APPS))
def test_the_environment_of_docker_compose_becomes_the_services_settings(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A distinct value for each passed-through setting, in the environment `docker compose`
    runs in, is what the service's settings class reads in the container."""
    kind = APPS[service]
    settings_cls, _, _ = KINDS[kind]
    samples: dict[str, str] = {}
    for name, field in settings_cls.model_fields.items():
        upper = name.upper()
        if upper in set_here(service) or upper in GOING:
            continue
        # a value other than the default, within the field's bounds
        if upper in CONSTRAINED_SAMPLES:
            samples[upper] = CONSTRAINED_SAMPLES[upper]
        elif field.annotation is bool:
            samples[upper] = "false" if field.default else "true"
        elif field.annotation is int:
            samples[upper] = str(field.default + 1)
        elif field.annotation is float:
            samples[upper] = str(field.default + 0.25)
        else:
            samples[upper] = f"{name}-from-the-host"
    container = compose_model.load(COMPOSE_FILE, samples).services[service].environment
    for name, value in samples.items():
        assert container.get(name) == value, name
    for name in list(settings_cls.model_fields):
        monkeypatch.delenv(name.upper(), raising=False)
    for name, value in container.items():
        monkeypatch.setenv(name, value)
    settings = settings_cls()
    for name, value in samples.items():
        got = getattr(settings, name.lower())
        if hasattr(got, "get_secret_value"):
            got = got.get_secret_value()
        assert str(got).lower() == value.lower(), name


def test_unset_settings_keep_the_defaults_of_settings_py(
    model: compose_model.Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With nothing set where `docker compose` runs, a service's settings are those it would have
    with only the compose file's own values set: the defaults of shared/settings.py, including
    any a default is derived from."""
    for service, kind in APPS.items():
        settings_cls, port_field, port = KINDS[kind]
        container = model.services[service].environment
        for name in settings_cls.model_fields:
            monkeypatch.delenv(name.upper(), raising=False)
        with monkeypatch.context() as env:
            for name, value in container.items():
                env.setenv(name, value)
            settings = settings_cls()
        with monkeypatch.context() as env:
            for name in set_here(service):
                if name in container:
                    env.setenv(name, container[name])
            baseline = settings_cls()
        assert set(container) == set_here(service), service
        assert settings == baseline, service
        assert getattr(settings, port_field) == port


def test_the_credentials_one_shot_reads_the_token_settings(model: compose_model.Model) -> None:
    credentials = model.services["credentials"]
    declared = set(credentials.raw["environment"])
    assert {"JWT_SECRET", "JWT_PUBLIC_KEY", "JWT_ISSUER", "JWT_AUDIENCE", "PRODUCTION_MODE"} <= (
        declared
    )
    assert credentials.raw["command"] == [
        "python", "-m", "shared.dev_credentials", "mint", "/credentials",
    ]  # fmt: skip
    assert credentials.raw["volumes"] == ["credentials:/credentials"]
    assert credentials.raw["restart"] == "no"
    for service, kind in APPS.items():
        svc = model.services[service]
        deps = svc.raw["depends_on"]
        assert deps["credentials"]["condition"] == "service_completed_successfully", service
        if kind != "projector":
            assert svc.raw["volumes"] == ["credentials:/credentials:ro"], service
            assert svc.raw["secrets"] == ["jwt-public-key"], service
    assert model.top["secrets"]["jwt-public-key"]["file"] == "./infra/docker/no-public-key.pem"
    assert (ROOT / "infra/docker/no-public-key.pem").is_file()


# ------------------------------------------------------------------------------ the services


def test_the_default_stack_is_the_single_node(model: compose_model.Model) -> None:
    assert set(model.started_by_up()) == {
        "kafka", "mongo", "credentials", "command", "query", "projector",
    }  # fmt: skip
    profiles = {name: svc.profiles for name, svc in model.services.items() if svc.profiles}
    assert profiles == {
        "command-2": ["command-2"],
        "command-3": ["command-3"],
        **{name: ["cluster"] for name in model.services if name.startswith("cluster-")},
    }
    assert "name" not in model.top  # two clones never share containers or volumes


@pytest.mark.parametrize("service", sorted(APPS))
def test_app_service(model: compose_model.Model, service: str) -> None:
    kind = APPS[service]
    settings_cls, port_field, port = KINDS[kind]
    svc = model.services[service]
    assert svc.raw["build"] == "."
    assert "image" not in svc.raw  # built per project: <project>-<service>
    assert svc.raw["command"] == ["python", "-m", f"services.{kind}"]
    assert svc.raw["restart"] == "on-failure:5"
    env = svc.environment
    assert env["HOST"] == "0.0.0.0"
    assert (
        env[port_field.upper()] == str(settings_cls.model_fields[port_field].default) == str(port)
    )
    [(ip, _, target)] = ports(svc)
    assert (ip, target) == ("127.0.0.1", port)
    assert f"http://127.0.0.1:{port}/ready" in healthcheck_text(svc)
    if kind == "command":
        assert env["COMMAND_ADVERTISED_URL"] == f"http://{service}:{port}"


def test_published_ports(model: compose_model.Model) -> None:
    single = model.started_by_up(["command-2", "command-3"])
    cluster = model.started_by_up(["cluster"], CLUSTER_APPS)

    def published(services: dict[str, compose_model.Service]) -> dict[str, int]:
        return {name: p.published for name, svc in services.items() for p in svc.ports}

    assert published(model.started_by_up()) == {
        "kafka": 9092, "mongo": 27017, "command": 8001, "query": 8002, "projector": 8003,
    }  # fmt: skip
    assert published(single)["command-2"] == 8011
    assert published(single)["command-3"] == 8012
    assert published(cluster) == {
        "cluster-kafka-1": 9092, "cluster-kafka-2": 9093, "cluster-kafka-3": 9094,
        "cluster-mongo-1": 27017, "cluster-mongo-2": 27018, "cluster-mongo-3": 27019,
        "cluster-command-1": 8001, "cluster-command-2": 8011,
        "cluster-query-1": 8002, "cluster-query-2": 8022,
        "cluster-projector-1": 8003, "cluster-projector-2": 8033,
    }  # fmt: skip
    # nothing has authentication: published on the loopback interface only
    assert {p.host_ip for svc in model.services.values() for p in svc.ports} == {"127.0.0.1"}


def test_every_long_running_service_has_a_healthcheck(model: compose_model.Model) -> None:
    one_shot = {
        name
        for svc in model.services.values()
        for name, dep in (svc.raw.get("depends_on") or {}).items()
        if dep["condition"] == "service_completed_successfully"
    }
    assert one_shot == {"credentials", "cluster-mongo-init"}
    for name, svc in model.services.items():
        if name in one_shot:
            assert svc.raw["restart"] == "no"
            continue
        check = svc.raw.get("healthcheck")
        assert check and not check.get("disable"), name
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name


def test_images_are_pinned_by_digest(model: compose_model.Model) -> None:
    images = {svc.raw["image"] for svc in model.services.values() if "image" in svc.raw}
    assert images, "no image"
    for image in images:
        assert re.fullmatch(r"[a-z/]+:\d+\.\d+\.\d+@sha256:[0-9a-f]{64}", image), image


# ---------------------------------------------------------------------------------- Kafka


def kafka_listeners(env: dict[str, str]) -> tuple[dict[str, str], dict[str, str], str]:
    def pairs(var: str, sep: str) -> dict[str, str]:
        return dict(item.split(sep, 1) for item in env[var].split(","))

    listeners = pairs("KAFKA_LISTENERS", "://")
    advertised = pairs("KAFKA_ADVERTISED_LISTENERS", "://")
    protocols = pairs("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", ":")
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert set(listeners) == set(advertised) | {controller}
    assert set(protocols) == set(listeners)
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    for name, address in advertised.items():  # bound on the port it advertises in-network
        if name != "EXTERNAL":
            assert listeners[name].rsplit(":", 1)[1] == address.rsplit(":", 1)[1], name
    return listeners, advertised, controller


def test_single_node_kafka(model: compose_model.Model) -> None:
    kafka = model.services["kafka"]
    version = re.fullmatch(r"apache/kafka:(\d+\.\d+\.\d+)@sha256:[0-9a-f]{64}", kafka.raw["image"])
    assert version, kafka.raw["image"]
    pom = (ROOT / "infra/native/kafka/pom.xml").read_text()
    assert f"<kafka.version>{version[1]}</kafka.version>" in pom  # the native stack's Kafka
    env = kafka.environment
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not any(k.startswith("KAFKA_ZOOKEEPER") for k in env)
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    for name in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert env[name] == "1", name
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    _, advertised, _ = kafka_listeners(env)
    # containers use the INTERNAL listener; the host the native default address, published
    apps = {model.services[s].environment["KAFKA_BOOTSTRAP_SERVERS"] for s in SINGLE_APPS}
    assert apps == {advertised["INTERNAL"]} == {"kafka:29092"}
    host_default = InfraSettings.model_fields["kafka_bootstrap_servers"].default
    assert advertised["EXTERNAL"] == host_default == "127.0.0.1:9092"
    assert ports(kafka) == [("127.0.0.1", 9092, 9092)]
    assert "--bootstrap-server localhost:29092" in healthcheck_text(kafka)


def test_cluster_kafka_is_three_kraft_voters_with_durable_defaults(
    model: compose_model.Model,
) -> None:
    nodes = [model.services[name] for name in CLUSTER_KAFKA]
    envs = [node.environment for node in nodes]
    assert {node.raw["image"] for node in nodes} == {model.services["kafka"].raw["image"]}
    assert [env["KAFKA_NODE_ID"] for env in envs] == ["1", "2", "3"]
    assert len({env["CLUSTER_ID"] for env in envs}) == 1
    assert envs[0]["CLUSTER_ID"] != model.services["kafka"].environment["CLUSTER_ID"]
    voters = {env["KAFKA_CONTROLLER_QUORUM_VOTERS"] for env in envs}
    assert voters == {",".join(f"{n}@{name}:29093" for n, name in enumerate(CLUSTER_KAFKA, 1))}
    bootstrap: list[str] = []
    for name, node, env in zip(CLUSTER_KAFKA, nodes, envs, strict=True):
        assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
        listeners, advertised, controller = kafka_listeners(env)
        assert listeners[controller] == ":29093"
        assert advertised["INTERNAL"] == f"{name}:29092"
        [(_, published, target)] = ports(node)
        assert advertised["EXTERNAL"] == f"127.0.0.1:{published}"
        assert listeners["EXTERNAL"] == f":{target}"
        bootstrap.append(advertised["INTERNAL"])
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2"
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"] == "false"
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
        assert node.raw["volumes"] == [f"{name}-data:/var/lib/kafka/data"]
    for service in CLUSTER_APPS:
        env = model.services[service].environment
        assert env["KAFKA_BOOTSTRAP_SERVERS"].split(",") == bootstrap
        deps = model.services[service].raw["depends_on"]
        assert all(deps[name]["condition"] == "service_healthy" for name in CLUSTER_KAFKA)


@pytest.mark.parametrize(("stack", "replicas", "min_insync"), [("single", 1, 1), ("cluster", 3, 2)])
def test_the_topics_the_services_create(
    model: compose_model.Model,
    monkeypatch: pytest.MonkeyPatch,
    stack: str,
    replicas: int,
    min_insync: int,
) -> None:
    """The services create the event, dead-letter and changelog topics themselves
    (shared/adapters/kafka_log.py), from the settings their containers get."""
    service = "command" if stack == "single" else "cluster-command-1"
    for name in InfraSettings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    for name, value in model.services[service].environment.items():
        monkeypatch.setenv(name, value)
    topics = {topic.name: topic for topic in wanted_topics(InfraSettings())}
    assert set(topics) == {"product-events", "product-events.dlq", "product-events.state"}
    for topic in topics.values():
        assert topic.replication_factor == replicas
        assert topic.topic_configs["min.insync.replicas"] == str(min_insync)
    assert topics["product-events.state"].topic_configs["cleanup.policy"] == "compact"
    assert topics["product-events.state"].num_partitions == topics["product-events"].num_partitions


# -------------------------------------------------------------------------------- MongoDB

END_OF_LIFE = {"4.4", "5.0", "6.0", "7.0"}  # 7.0: August 2026


def test_single_node_mongo(model: compose_model.Model) -> None:
    mongo = model.services["mongo"]
    version = re.fullmatch(r"mongo:(\d+\.\d+)\.\d+@sha256:[0-9a-f]{64}", mongo.raw["image"])
    assert version, mongo.raw["image"]
    assert version[1] not in END_OF_LIFE
    args = [str(a) for a in mongo.raw["command"]]
    assert args[args.index("--replSet") + 1] == "rs0"
    assert "--bind_ip_all" in args
    assert args[args.index("--port") + 1] == "27017"
    assert ports(mongo) == [("127.0.0.1", 27017, 27017)]
    assert mongo.raw["volumes"] == ["mongo-8.0-data:/data/db"]

    check = healthcheck_text(mongo)
    assert "rs.initiate" in check and "isWritablePrimary" in check and "rs.reconfig" in check
    assert re.search(r"_id:\s*'rs0'", check)
    member = re.search(r"const member = '([^']+)'", check)
    assert member, check
    # the host's default URL reaches the member the replica set announces
    host_url = urlsplit(InfraSettings.model_fields["mongodb_url"].default)
    assert parse_qs(host_url.query).get("replicaSet") == ["rs0"]
    assert host_url.netloc == member[1]
    # the containers cannot reach 127.0.0.1:27017: they talk to `mongo` directly
    for service in SINGLE_APPS:
        url = urlsplit(model.services[service].environment["MONGODB_URL"])
        assert url.netloc == "mongo:27017"
        assert parse_qs(url.query).get("directConnection") == ["true"], service


def test_cluster_mongo_is_a_three_member_replica_set(model: compose_model.Model) -> None:
    members = []
    for name in CLUSTER_MONGO:
        node = model.services[name]
        assert node.raw["image"] == model.services["mongo"].raw["image"]
        args = [str(a) for a in node.raw["command"]]
        assert args[args.index("--replSet") + 1] == "rs0"
        port = int(args[args.index("--port") + 1])
        # a member's address is the same from the host and in the network
        assert ports(node) == [("127.0.0.1", port, port)]
        assert node.environment["MONGO_MEMBER_PORT"] == str(port)
        assert node.raw["volumes"] == [f"{name}-data:/data/db"]
        members.append(f"{name}:{port}")
    assert [m.rsplit(":", 1)[1] for m in members] == ["27017", "27018", "27019"]
    init = model.services["cluster-mongo-init"]
    script = " ".join(init.raw["command"])
    assert re.findall(r"host: '([^']+)'", script) == members
    assert "_id: 'rs0'" in script and "PRIMARY" in script
    assert {name: dep["condition"] for name, dep in init.raw["depends_on"].items()} == {
        name: "service_healthy" for name in CLUSTER_MONGO
    }
    for service in CLUSTER_APPS:
        url = urlsplit(model.services[service].environment["MONGODB_URL"])
        assert url.netloc.split(",") == members
        assert parse_qs(url.query) == {"replicaSet": ["rs0"]}
        deps = model.services[service].raw["depends_on"]
        assert deps["cluster-mongo-init"]["condition"] == "service_completed_successfully"


def test_cluster_instances_are_distinct_members(model: compose_model.Model) -> None:
    ids = [model.services[f"cluster-projector-{n}"].environment for n in (1, 2)]
    assert [env["PROJECTOR_INSTANCE_ID"] for env in ids] == ["projector-1", "projector-2"]
    assert "PROJECTOR_GROUP_ID" not in ids[0]  # one group, the default
    urls = [
        model.services[f"cluster-command-{n}"].environment["COMMAND_ADVERTISED_URL"] for n in (1, 2)
    ]
    assert urls == ["http://cluster-command-1:8001", "http://cluster-command-2:8001"]


# ------------------------------------------------------------------------ README and scripts


def test_the_readme_states_what_each_mode_runs(model: compose_model.Model) -> None:
    readme = (ROOT / "README.md").read_text()
    kafka = model.services["kafka"].raw["image"].split("@")[0].split(":")[1]
    mongo = model.services["mongo"].raw["image"].split("@")[0].split(":")[1]
    docker = readme[readme.index("## Running on Docker") :]
    docker = docker[: docker.index("\n## ", 3)]
    assert f"Kafka {kafka}" in docker and f"MongoDB {mongo}" in docker
    native_mongo = re.search(
        r"mongod (\d+\.\d+\.\d+)", (ROOT / "infra/native/mongo.sh").read_text()
    )
    assert native_mongo
    assert f"MongoDB {native_mongo[1]}" in readme


def test_compose_sh_names_the_cluster_services_of_the_file(model: compose_model.Model) -> None:
    text = (ROOT / "infra/compose.sh").read_text()
    listed = re.search(r'CLUSTER_SERVICES="([^"]+)"', text)
    assert listed
    assert set(shlex.split(listed[1])) == set(CLUSTER_APPS)
    # and naming the app services starts the whole cluster, through their dependencies
    started = model.started_by_up(["cluster"], shlex.split(listed[1]))
    assert set(CLUSTER_KAFKA) | set(CLUSTER_MONGO) | {"cluster-mongo-init"} <= set(started)
