"""The Docker path of `make up`/`make down`, run against a stand-in `docker` that records its calls.

What runs is the real Makefile, infra/up.sh, infra/down.sh, infra/mode.sh and infra/compose.sh;
only `docker` is the stand-in of tests/support/fake_docker.py. Each test then reads what would
have been run, with which environment, and resolves docker-compose.yml with that environment
(tests/support/compose_model.py) to see what the containers would get. What only a Docker host
can show (images build, containers start and become healthy) is listed in the README.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from tests.support import compose_model
from tests.support.fake_docker import ROOT, Call, StandIn, base_env, run

COMPOSE_FILE = ROOT / "docker-compose.yml"


@pytest.fixture
def docker(tmp_path: Path) -> StandIn:
    return StandIn(tmp_path / "standin")


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return tmp_path / "run"


def mode(env: dict[str, str], shell: str | None = None) -> tuple[int, str, str]:
    """infra/mode.sh by its #!/bin/sh (dash here), or by SHELL (macOS's /bin/sh is bash)."""
    script = str(ROOT / "infra" / "mode.sh")
    done = run([shell, script] if shell else [script], env)
    return done.returncode, done.stdout, done.stderr


def shutil_which(tool: str, env: dict[str, str]) -> str | None:
    return shutil.which(tool, path=env["PATH"])


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def the_up(docker: StandIn) -> Call:
    [up] = docker.compose_calls("up")
    assert up.cwd == str(ROOT)
    return up


def model_of(call: Call) -> dict[str, compose_model.Service]:
    """What `docker compose <call>` would start: the services of its profiles or arguments, as
    docker-compose.yml resolves in the environment the call was made with."""
    sub = call.subcommand()
    named = [arg for arg in sub[1:] if not arg.startswith("-") and not arg.isdigit()]
    return compose_model.load(COMPOSE_FILE, call.env).started_by_up(call.profiles(), named)


# ---------------------------------------------------------------------------------- mode.sh


def test_a_docker_engine_with_compose_selects_docker(docker: StandIn, run_dir: Path) -> None:
    assert mode(base_env(docker, run_dir)) == (0, "docker\n", "")
    argvs = [c.argv for c in docker.calls()]
    assert ["info"] in argvs
    assert ["compose", "version", "--short"] in argvs


def test_linux_without_an_engine_runs_natively_and_says_why(docker: StandIn, run_dir: Path) -> None:
    status, out, err = mode(base_env(docker, run_dir, FAKE_DOCKER_ENGINE="down"))
    assert (status, out) == (0, "native\n")
    assert "no Docker engine answers" in one_line(err)


def test_macos_without_an_engine_refuses_the_native_stack_in_one_line(
    docker: StandIn, run_dir: Path
) -> None:
    env = base_env(docker, run_dir, mac_like=True, FAKE_DOCKER_ENGINE="down")
    assert shutil_which("timeout", env) is None
    status, out, err = mode(env)
    assert (status, out) == (1, "")
    line = one_line(err)
    assert "start Docker Desktop" in line
    assert "Linux only" in line and "Darwin" in line


@pytest.mark.parametrize("shell", [None, "bash"], ids=["sh", "bash"])
def test_macos_with_a_hanging_engine_gives_up_after_the_probe_timeout(
    docker: StandIn, run_dir: Path, shell: str | None
) -> None:
    """Stock macOS has no `timeout`: the probe must bound `docker info` by itself."""
    env = base_env(
        docker, run_dir, mac_like=True, FAKE_DOCKER_ENGINE="hang", DOCKER_PROBE_TIMEOUT=1
    )
    assert shutil_which("timeout", env) is None
    started = time.monotonic()
    status, out, err = mode(env, shell)
    elapsed = time.monotonic() - started
    assert (status, out) == (1, "")
    assert "does not answer 'docker info' within 1 s" in one_line(err)
    # bounded by the probe, not by the stand-in's 120 s hang (generous for a loaded machine)
    assert elapsed < 30, elapsed


def test_macos_without_docker_says_to_install_it(docker: StandIn, run_dir: Path) -> None:
    env = base_env(docker, run_dir, mac_like=True)
    (docker.bin / "docker").unlink()
    status, out, err = mode(env)
    assert (status, out) == (1, "")
    assert "Docker is not installed: install Docker Desktop" in one_line(err)


def test_macos_with_docker_selects_docker(docker: StandIn, run_dir: Path) -> None:
    assert mode(base_env(docker, run_dir, mac_like=True)) == (0, "docker\n", "")


@pytest.mark.parametrize("mac_like", [False, True], ids=["linux", "macos"])
def test_an_engine_without_the_compose_plugin_is_named(
    docker: StandIn, run_dir: Path, mac_like: bool
) -> None:
    env = base_env(docker, run_dir, mac_like=mac_like, FAKE_DOCKER_COMPOSE="none")
    status, out, err = mode(env)
    assert (status, out) == (1, "")
    line = one_line(err)
    assert "Compose v2 plugin ('docker compose') is missing" in line
    assert "docker-compose-plugin" in line
    # only where the native stack can run is it offered
    assert ("INFRA=native" in line) is (not mac_like)


@pytest.mark.parametrize(
    ("version", "accepted"),
    [("2.17.1", False), ("1.29.2", False), ("2.20.0", True), ("v2.24.6", True), ("5.0.1", True)],
)
def test_the_compose_version_is_checked(
    docker: StandIn, run_dir: Path, version: str, accepted: bool
) -> None:
    status, out, err = mode(base_env(docker, run_dir, FAKE_DOCKER_COMPOSE=version))
    if accepted:
        assert (status, out, err) == (0, "docker\n", "")
    else:
        assert (status, out) == (1, "")
        assert f"Docker Compose {version} is too old: 2.20 or newer" in one_line(err)


def test_forced_modes(docker: StandIn, run_dir: Path) -> None:
    status, out, err = mode(base_env(docker, run_dir, mac_like=True, INFRA="native"))
    assert (status, out) == (1, "")
    assert "the native stack runs on Linux only" in one_line(err)
    assert mode(base_env(docker, run_dir, INFRA="native")) == (0, "native\n", "")

    status, out, err = mode(base_env(docker, run_dir, INFRA="docker", FAKE_DOCKER_ENGINE="down"))
    assert (status, out) == (1, "")
    assert "INFRA=docker, but the Docker engine does not answer" in one_line(err)

    status, _, err = mode(base_env(docker, run_dir, INFRA="podman"))
    assert status == 1
    assert "INFRA must be docker, native or auto (got 'podman')" in one_line(err)


# ---------------------------------------------------------------------------- make up / down


def make(target: str, env: dict[str, str]) -> tuple[int, str, str]:
    done = run(["make", "--no-print-directory", "-s", target], env, timeout=120)
    return done.returncode, done.stdout, done.stderr


def test_make_up_on_a_mac_needs_no_python_uv_openssl_or_timeout(
    docker: StandIn, run_dir: Path
) -> None:
    env = base_env(docker, run_dir, mac_like=True)
    for tool in ("python3", "python", "uv", "pip", "openssl", "timeout"):
        assert shutil_which(tool, env) is None, tool
    status, out, err = make("up", env)
    assert status == 0, err

    up = the_up(docker)
    assert up.subcommand() == [
        "up", "--detach", "--build", "--wait", "--wait-timeout", "300",
    ]  # fmt: skip
    assert up.profiles() == []
    started = model_of(up)
    assert {"kafka", "mongo", "credentials", "command", "query", "projector"} == set(started)

    # the development token comes out of the image's volume, readable by the user only
    [exec_call] = docker.compose_calls("exec")
    assert exec_call.subcommand() == ["exec", "-T", "command", "cat", "/credentials/dev-token"]
    token = run_dir / "dev-token"
    assert token.read_text() == "eyJ.stand-in.token\n"
    assert token.stat().st_mode & 0o777 == 0o600
    assert str(token) in out
    assert "Apache Kafka 3.9.1" in out and "MongoDB 8.0.28" in out


def test_make_up_publishes_the_ports_and_passes_the_settings_it_is_given(
    docker: StandIn, run_dir: Path
) -> None:
    settings = {
        "JWT_ISSUER": "https://issuer.example",
        "JWT_AUDIENCE": "catalog",
        "CORS_ORIGINS": "https://shop.example",
        "MONGODB_DATABASE": "shop",
        "REQUEST_TIMEOUT_S": "7.5",
        "QUERY_PRODUCT_CACHE_SIZE": "10",
        "PROJECTOR_MAX_BATCH": "99",
    }
    ports = {
        "COMMAND_PORT": "18001",
        "QUERY_PORT": "18002",
        "PROJECTOR_PORT": "18003",
        "KAFKA_PORT": "19092",
        "MONGO_PORT": "27117",
    }
    status, out, err = make("up", base_env(docker, run_dir, **settings, **ports))
    assert status == 0, err
    up = the_up(docker)
    for name, value in {**settings, **ports}.items():
        assert up.env[name] == value, name
    started = model_of(up)

    def published(service: str) -> list[tuple[str, int, int]]:
        return [(p.host_ip, p.published, p.target) for p in started[service].ports]

    assert published("command") == [("127.0.0.1", 18001, 8001)]
    assert published("query") == [("127.0.0.1", 18002, 8002)]
    assert published("projector") == [("127.0.0.1", 18003, 8003)]
    assert published("kafka") == [("127.0.0.1", 19092, 9092)]
    assert published("mongo") == [("127.0.0.1", 27117, 27117)]
    kafka_env = started["kafka"].environment
    assert "EXTERNAL://127.0.0.1:19092" in kafka_env["KAFKA_ADVERTISED_LISTENERS"]
    assert "'127.0.0.1:27117'" in " ".join(started["mongo"].raw["healthcheck"]["test"])
    assert started["command"].environment["MONGODB_URL"] == (
        "mongodb://mongo:27117/?directConnection=true"
    )

    for service in ("command", "query"):
        env = started[service].environment
        for name in ("JWT_ISSUER", "JWT_AUDIENCE", "CORS_ORIGINS", "REQUEST_TIMEOUT_S"):
            assert env[name] == settings[name], (service, name)
    assert started["query"].environment["QUERY_PRODUCT_CACHE_SIZE"] == "10"
    assert started["projector"].environment["PROJECTOR_MAX_BATCH"] == "99"
    for service in ("command", "query", "projector"):
        assert started[service].environment["MONGODB_DATABASE"] == "shop"

    # the endpoints printed are the ones published
    for url in (
        "http://127.0.0.1:18001/graphql",
        "http://127.0.0.1:18002/graphql",
        "http://127.0.0.1:18003",
        "127.0.0.1:19092",
        "mongodb://127.0.0.1:27117/?replicaSet=rs0",
    ):
        assert url in out, url


def test_make_up_leaves_unset_settings_to_their_defaults(docker: StandIn, run_dir: Path) -> None:
    assert make("up", base_env(docker, run_dir))[0] == 0
    command = model_of(the_up(docker))["command"].environment
    for name in ("JWT_SECRET", "JWT_ISSUER", "CORS_ORIGINS", "EVENTS_TOPIC", "LOG_LEVEL"):
        assert name not in command, name
    assert command["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:29092"
    assert command["HOST"] == "0.0.0.0"


def test_command_instances_start_numbered_command_services(docker: StandIn, run_dir: Path) -> None:
    status, out, err = make("up", base_env(docker, run_dir, COMMAND_INSTANCES=3))
    assert status == 0, err
    up = the_up(docker)
    assert up.profiles() == ["command-2", "command-3"]
    started = model_of(up)
    commands = {name: svc for name, svc in started.items() if name.startswith("command")}
    assert set(commands) == {"command", "command-2", "command-3"}
    assert [commands[n].ports[0].published for n in sorted(commands)] == [8001, 8011, 8012]
    for name, svc in commands.items():
        assert svc.environment["COMMAND_ADVERTISED_URL"] == f"http://{name}:8001"
        assert svc.environment["COMMAND_PORT"] == "8001"
    for port in (8001, 8011, 8012):
        assert f"http://127.0.0.1:{port}/graphql" in out


@pytest.mark.parametrize("instances", ["0", "4", "two"])
def test_command_instances_out_of_range_start_nothing(
    docker: StandIn, run_dir: Path, instances: str
) -> None:
    status, _, err = make("up", base_env(docker, run_dir, COMMAND_INSTANCES=instances))
    assert status != 0
    assert "COMMAND_INSTANCES must be 1 to 3 in Docker mode" in err
    assert docker.compose_calls("up") == []


def test_the_cluster_starts_its_own_services_only(docker: StandIn, run_dir: Path) -> None:
    status, out, err = make("up", base_env(docker, run_dir, STACK="cluster"))
    assert status == 0, err
    up = the_up(docker)
    assert up.profiles() == ["cluster"]
    started = model_of(up)
    assert set(started) == {
        "credentials",
        *(f"cluster-kafka-{n}" for n in (1, 2, 3)),
        *(f"cluster-mongo-{n}" for n in (1, 2, 3)),
        "cluster-mongo-init",
        *(f"cluster-{svc}-{n}" for svc in ("command", "query", "projector") for n in (1, 2)),
    }
    [exec_call] = docker.compose_calls("exec")
    assert exec_call.profiles() == ["cluster"]
    assert exec_call.subcommand()[2] == "cluster-command-1"
    assert "127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094" in out
    assert "http://127.0.0.1:8022/graphql" in out


@pytest.mark.parametrize(
    ("stack", "running", "message"),
    [
        ("cluster", "kafka,command,query", "the single-node stack is running"),
        ("single", "cluster-kafka-1,cluster-command-1", "the cluster is running"),
    ],
)
def test_one_stack_is_not_started_over_the_other(
    docker: StandIn, run_dir: Path, stack: str, running: str, message: str
) -> None:
    env = base_env(docker, run_dir, STACK=stack, FAKE_DOCKER_RUNNING=running)
    status, _, err = make("up", env)
    assert status != 0
    assert message in err
    assert docker.compose_calls("up") == []


def test_a_stack_that_does_not_get_healthy_fails_make_up(docker: StandIn, run_dir: Path) -> None:
    env = base_env(docker, run_dir, FAKE_DOCKER_UP_STATUS=1, COMPOSE_WAIT_TIMEOUT=45)
    status, _, err = make("up", env)
    assert status != 0
    assert the_up(docker).subcommand()[4:6] == ["--wait-timeout", "45"]
    assert "not every service became healthy within 45 s" in err
    assert [c.subcommand() for c in docker.compose_calls("ps")][-1] == ["ps", "--all"]
    assert docker.compose_calls("exec") == []
    assert not (run_dir / "dev-token").exists()


def test_make_up_stops_at_an_engine_without_compose(docker: StandIn, run_dir: Path) -> None:
    status, _, err = make("up", base_env(docker, run_dir, FAKE_DOCKER_COMPOSE="none"))
    assert status != 0
    assert "Compose v2 plugin ('docker compose') is missing" in err
    assert docker.compose_calls("up") == []
    assert not run_dir.exists()  # and nothing native was tried either


def test_a_public_key_path_is_mounted(docker: StandIn, run_dir: Path, tmp_path: Path) -> None:
    key = tmp_path / "keys" / "idp.pem"
    key.parent.mkdir()
    key.write_text("-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----\n")
    key.chmod(0o644)
    (run_dir).mkdir()
    (run_dir / "dev-token").write_text("stale\n")
    status, out, err = make("up", base_env(docker, run_dir, JWT_PUBLIC_KEY=key))
    assert status == 0, err
    up = the_up(docker)
    assert up.env["JWT_PUBLIC_KEY"] == "/run/secrets/jwt-public-key"
    assert up.env["JWT_PUBLIC_KEY_FILE"] == str(key)
    model = compose_model.load(COMPOSE_FILE, up.env)
    assert model.top["secrets"]["jwt-public-key"]["file"] == str(key)
    started = model.started_by_up()
    for service in ("command", "query"):
        assert started[service].raw["secrets"] == ["jwt-public-key"]
        assert started[service].environment["JWT_PUBLIC_KEY"] == "/run/secrets/jwt-public-key"
    assert docker.compose_calls("exec") == []
    assert not (run_dir / "dev-token").exists()
    assert "signed by the key in JWT_PUBLIC_KEY" in out


def test_a_public_key_the_containers_cannot_read_is_refused(
    docker: StandIn, run_dir: Path, tmp_path: Path
) -> None:
    key = tmp_path / "idp.pem"
    key.write_text("-----BEGIN PUBLIC KEY-----\n")
    key.chmod(0o600)
    status, _, err = make("up", base_env(docker, run_dir, JWT_PUBLIC_KEY=key))
    assert status != 0
    assert f"cannot read {key}" in err and "chmod a+r" in err
    missing = tmp_path / "nope.pem"
    status, _, err = make("up", base_env(docker, run_dir, JWT_PUBLIC_KEY=missing))
    assert status != 0
    assert "JWT_PUBLIC_KEY is neither a PEM key nor a readable file" in err
    assert docker.compose_calls("up") == []


def test_a_pem_public_key_is_passed_as_it_is(docker: StandIn, run_dir: Path) -> None:
    pem = "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n"
    assert make("up", base_env(docker, run_dir, JWT_PUBLIC_KEY=pem))[0] == 0
    up = the_up(docker)
    assert up.env["JWT_PUBLIC_KEY"] == pem
    assert "JWT_PUBLIC_KEY_FILE" not in up.env
    assert model_of(up)["command"].environment["JWT_PUBLIC_KEY"] == pem


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("down", ["down"]),
        ("clean", ["down", "--volumes"]),
        ("logs", ["logs", "--follow"]),
    ],
)
def test_make_down_clean_and_logs_cover_every_profile(
    docker: StandIn, run_dir: Path, target: str, expected: list[str]
) -> None:
    status, _, err = make(target, base_env(docker, run_dir, mac_like=True))
    assert status == 0, err
    [call] = [c for c in docker.calls() if c.subcommand()[:1] == expected[:1]]
    assert call.profiles() == ["*"]
    assert call.subcommand() == expected
    assert call.cwd == str(ROOT)


@pytest.mark.parametrize(
    ("running", "expected"),
    [
        ("kafka,mongo,command,query,projector", ["run", "--rm", "--no-deps", "projector"]),
        (
            "cluster-kafka-1,cluster-projector-1",
            ["run", "--rm", "--no-deps", "cluster-projector-1"],
        ),
    ],
)
def test_make_rebuild_runs_in_a_projector_container(
    docker: StandIn, run_dir: Path, running: str, expected: list[str]
) -> None:
    env = base_env(docker, run_dir, mac_like=True, FAKE_DOCKER_RUNNING=running)
    status, _, err = make("rebuild", env)
    assert status == 0, err
    [call] = docker.compose_calls("run")
    assert call.subcommand() == [*expected, "python", "-m", "services.projector.rebuild"]
    assert call.profiles() == (["cluster"] if "cluster" in running else [])
    assert call.cwd == str(ROOT)


def test_the_scripts_of_the_docker_path_are_posix_sh() -> None:
    """They run on macOS's /bin/sh and dash alike: no bash-only syntax."""
    for script in ("mode.sh", "compose.sh"):
        text = (ROOT / "infra" / script).read_text()
        assert text.startswith("#!/bin/sh\n"), script
        done = run(["sh", "-n", str(ROOT / "infra" / script)], {"PATH": "/usr/bin:/bin"})
        assert done.returncode == 0, done.stderr
        assert not re.search(r"\[\[|\bdeclare\b|\blocal\b|\$\{[A-Za-z_]+,,|<<<|\bfunction\b", text)
