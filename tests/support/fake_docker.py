"""A stand-in `docker` on PATH that records its calls, for testing the Docker path without Docker.

`StandIn` writes an executable `docker` into a folder of its own. Each call appends one JSON line
(its arguments, environment and working directory) to a log, then answers as a Docker client
would, as configured: engine up, down, or hanging on `docker info`; the Compose plugin present
in a given version, or missing; `docker compose up` succeeding or failing; `ps` listing running
services; `exec ... cat /credentials/dev-token` printing a token.

`path(...)` builds the PATH a test runs with: the stand-in first, then either the machine's
PATH, or only the listed system tools (a macOS-like machine: no `timeout`, no Python, no uv, no
openssl) with `uname` answering Darwin.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = """#!{python}
import json, os, sys, time

args = sys.argv[1:]
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps({{"argv": args, "env": dict(os.environ), "cwd": os.getcwd()}}) + "\\n")

engine = os.environ.get("FAKE_DOCKER_ENGINE", "up")
if args[:1] == ["info"]:
    if engine == "hang":
        time.sleep(120)
    if engine != "up":
        print("Cannot connect to the Docker daemon. Is the docker daemon running?", file=sys.stderr)
        sys.exit(1)
    print("Server Version: 28.2.2")
    sys.exit(0)
if args[:1] != ["compose"]:
    sys.exit(0)
version = os.environ.get("FAKE_DOCKER_COMPOSE", "2.40.3")
if version == "none":
    print("docker: unknown command: docker compose", file=sys.stderr)
    sys.exit(1)
rest = args[1:]
while rest[:1] == ["--profile"]:
    rest = rest[2:]
command = rest[:1]
if command == ["version"]:
    print(version if "--short" in rest else "Docker Compose version v" + version)
elif command == ["ps"]:
    print("\\n".join(filter(None, os.environ.get("FAKE_DOCKER_RUNNING", "").split(","))))
elif command == ["exec"]:
    print(os.environ.get("FAKE_DOCKER_TOKEN", "eyJ.stand-in.token"))
elif command == ["up"]:
    sys.exit(int(os.environ.get("FAKE_DOCKER_UP_STATUS", "0")))
"""

# What the Docker path may use on a Mac besides Docker: make, a POSIX shell, bash 3.2 (up.sh's
# shebang), and the usual base utilities. Nothing else is put on a macOS-like PATH.
MAC_TOOLS = (
    "sh", "bash", "make", "env", "cat", "cut", "dirname", "basename", "find", "head", "mkdir",
    "mv", "rm", "sed", "sleep", "tr",
)  # fmt: skip


@dataclass
class Call:
    argv: list[str]
    env: dict[str, str]
    cwd: str

    @property
    def compose(self) -> list[str] | None:
        """The arguments after `docker compose`, or None for another docker command."""
        return self.argv[1:] if self.argv[:1] == ["compose"] else None

    def profiles(self) -> list[str]:
        args = self.compose or []
        return [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "--profile"]

    def subcommand(self) -> list[str]:
        """The compose command and its arguments, without the global --profile options."""
        args = list(self.compose or [])
        while args[:1] == ["--profile"]:
            args = args[2:]
        return args


@dataclass
class StandIn:
    folder: Path
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.bin = self.folder / "bin"
        self.bin.mkdir(parents=True)
        self.log = self.folder / "docker-calls.jsonl"
        docker = self.bin / "docker"
        docker.write_text(_SCRIPT.format(python=sys.executable))
        docker.chmod(0o755)

    def path(self, *, mac_like: bool = False) -> str:
        if not mac_like:
            return f"{self.bin}{os.pathsep}{os.environ['PATH']}"
        system = self.folder / "system"
        system.mkdir(exist_ok=True)
        for tool in MAC_TOOLS:
            found = shutil.which(tool)
            assert found, f"{tool} is needed to build the macOS-like PATH"
            target = system / tool
            if not target.exists():
                target.symlink_to(found)
        uname = system / "uname"
        uname.write_text("#!/bin/sh\necho Darwin\n")
        uname.chmod(0o755)
        return f"{self.bin}{os.pathsep}{system}"

    def calls(self) -> list[Call]:
        if not self.log.exists():
            return []
        return [Call(**json.loads(line)) for line in self.log.read_text().splitlines()]

    def compose_calls(self, subcommand: str) -> list[Call]:
        return [c for c in self.calls() if c.subcommand()[:1] == [subcommand]]


def run(
    args: list[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """ARGS in the repository, with exactly ENV as the environment (plus nothing inherited)."""
    return subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def base_env(
    stand_in: StandIn, run_dir: Path, *, mac_like: bool = False, **extra: Any
) -> dict[str, str]:
    """A clean environment for one test: HOME, PATH with the stand-in, RUN_DIR, the stand-in's log;
    no setting of the machine's (the lead's KAFKA_BOOTSTRAP_SERVERS, say) leaks in."""
    env = {
        "HOME": str(stand_in.folder),
        "PATH": stand_in.path(mac_like=mac_like),
        "RUN_DIR": str(run_dir),
        "FAKE_DOCKER_LOG": str(stand_in.log),
        "LANG": "C",
    }
    env.update({key: str(value) for key, value in extra.items()})
    return env
