"""The services as real processes: started with `python -m`, talked to over HTTP, killed for real."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.support import auth
from tests.support.infra import ROOT

PORT_VARIABLE = {"command": "COMMAND_PORT", "projector": "PROJECTOR_PORT", "query": "QUERY_PORT"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Service:
    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.port = free_port()
        self.env = {
            **os.environ,
            "JWT_SECRET": auth.SECRET,
            **env,
            PORT_VARIABLE[name]: str(self.port),
            "HOST": "127.0.0.1",
        }
        self.log = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    def start(self, wait_ready: bool = True, timeout: float = 60) -> Service:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.name}"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def ready(self, timeout: float = 3) -> tuple[int, Any]:
        try:
            response = httpx.get(f"{self.url}/ready", timeout=timeout)
        except httpx.HTTPError:
            return 0, None
        return response.status_code, response.json()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.tail()}"
                )
            if self.ready()[0] == 200:
                return
            time.sleep(0.2)
        self.kill()  # a half-started service must not outlive the test that wanted it
        raise TimeoutError(f"{self.name} not ready after {timeout}s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, exactly like a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


async def graphql(
    client: httpx.AsyncClient,
    url: str,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """POST a GraphQL request, with the test user's bearer token unless `headers` say otherwise
    (the query service ignores it unless it requires tokens)."""
    response = await client.post(
        url,
        json={"query": query, "variables": variables or {}},
        headers=auth.headers() if headers is None else headers,
    )
    assert response.status_code < 500, response.text
    body: dict[str, Any] = response.json()
    return body


CREATE_PRODUCT = "mutation($i: CreateProductInput!) { createProduct(input: $i) { id version } }"


async def create_products(http: httpx.AsyncClient, command: Service, count: int) -> list[str]:
    """`count` products through the command service, one after the other; their ids in order."""
    ids = []
    for i in range(count):
        body = await graphql(
            http,
            command.graphql_url,
            CREATE_PRODUCT,
            {
                "i": {
                    "sku": f"S{i}",
                    "name": f"P{i}",
                    "category": f"c{i % 4}",
                    "price": {"amount": f"{i}.00", "currency": "EUR"},
                }
            },
        )
        ids.append(body["data"]["createProduct"]["id"])
    return ids


def ownership(service: Service) -> dict[str, Any]:
    """A command instance's view of the group: what it owns (phase per partition), who owns what."""
    body: dict[str, Any] = httpx.get(f"{service.url}/ownership", timeout=5).json()
    return body


def wait_until_shared(*services: Service, partitions: int = 6, timeout_s: float = 30) -> float:
    """Until the command instances own every partition between them, each one some, all ready
    and agreeing on who owns what; the seconds that took."""
    started = time.monotonic()
    while True:
        views = [ownership(s) for s in services]
        owned = [p for v in views for p, phase in v["owned"].items() if phase == "ready"]
        agreed = all(v["owners"] == views[0]["owners"] for v in views)
        urls = {s.url for s in services}
        if (
            sorted(owned, key=int) == [str(p) for p in range(partitions)]
            and agreed
            and set(views[0]["owners"].values()) == urls
        ):
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"partitions not shared after {timeout_s}s: {views}")
        time.sleep(0.2)


def id_in(partition: int, partitions: int = 6) -> str:
    """A new product id whose partition is `partition`."""
    from services.command.routing import partition_for

    while partition_for(pid := str(uuid.uuid4()), partitions) != partition:
        pass
    return pid
