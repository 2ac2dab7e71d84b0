"""The services' HTTP edge as real processes: who may write, how much a request may carry, how
long it may take, and what production mode hides. Every refusal has a code, none is a 5xx,
nothing refused reaches the log, and the service stays ready."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import websockets
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.query.client import error_codes
from tests.support import auth
from tests.support.infra import ROOT
from tests.support.kafka import read_all
from tests.support.services import Service, graphql

CREATE = "mutation($i: CreateProductInput!) { createProduct(input: $i) { id version } }"
PRODUCT = {"sku": "MUG-1", "name": "Mug", "price": {"amount": "9.99", "currency": "EUR"}}


def create(sku: str = "MUG-1") -> dict[str, Any]:
    return {"query": CREATE, "variables": {"i": {**PRODUCT, "sku": sku}}}


def codes(response: httpx.Response) -> list[str]:
    return error_codes(response.json())


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@pytest.fixture
def command(isolated_env: dict[str, str]) -> Iterator[Service]:
    service = Service("command", {**isolated_env, "MAX_REQUEST_BYTES": "65536"}).start()
    yield service
    service.stop()


def forged_tokens() -> dict[str, str | None]:
    """Authorization header values that must all be refused, by what is wrong with them."""
    now = int(time.time())
    claims = {"sub": "mallory", "iat": now, "exp": now + 600}
    return {
        "no header": None,
        "not bearer": "Basic bWFsbG9yeTpzZWNyZXQ=",
        "not a jwt": "Bearer not-a-token",
        "expired": f"Bearer {auth.token(lifetime_s=-60)}",
        "another secret": f"Bearer {auth.token(secret='another-secret-of-at-least-32-bytes!!')}",
        "alg none": "Bearer " + jwt.encode(claims, None, algorithm="none"),
        "no subject": "Bearer " + jwt.encode({"exp": now + 600}, auth.SECRET, algorithm="HS256"),
        "no expiry": "Bearer " + jwt.encode({"sub": "mallory"}, auth.SECRET, algorithm="HS256"),
    }


async def test_writes_need_a_valid_token_and_a_refused_one_appends_nothing(
    command: Service, http: httpx.AsyncClient, kafka_bootstrap: str
) -> None:
    for case, header in forged_tokens().items():
        headers = {} if header is None else {"Authorization": header}
        response = await http.post(command.graphql_url, json=create(), headers=headers)
        assert response.status_code == 401, case
        assert codes(response) == ["UNAUTHENTICATED"], case
        assert response.headers["www-authenticate"].startswith("Bearer"), case
    assert await read_all(kafka_bootstrap, command.env["EVENTS_TOPIC"]) == []
    assert command.ready()[0] == 200

    body = await graphql(http, command.graphql_url, CREATE, create()["variables"], auth.headers())
    assert body["data"]["createProduct"]["version"] == 1
    body = await graphql(
        http, command.graphql_url, CREATE, create("CUP-1")["variables"], auth.headers("alice")
    )
    records = await read_all(kafka_bootstrap, command.env["EVENTS_TOPIC"])  # by partition
    assert sorted((r.headers["ce_authtype"], r.headers["ce_authid"]) for r in records) == [
        ("app_user", "alice"),
        ("app_user", auth.SUBJECT),
    ]


@pytest.fixture
def rsa_keys(tmp_path: Path) -> tuple[rsa.RSAPrivateKey, Path]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = tmp_path / "public.pem"
    public.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


async def test_rs256_tokens_from_an_identity_provider_with_issuer_and_audience(
    isolated_env: dict[str, str],
    rsa_keys: tuple[rsa.RSAPrivateKey, Path],
    http: httpx.AsyncClient,
    kafka_bootstrap: str,
) -> None:
    private, public = rsa_keys
    env = {
        **isolated_env,
        "JWT_PUBLIC_KEY": str(public),
        "JWT_ISSUER": "https://id.example",
        "JWT_AUDIENCE": "catalog",
    }
    service = Service("command", env)
    service.env.pop("JWT_SECRET")  # the tests' default HS256 secret must not be configured too
    service.start()
    try:
        now = int(time.time())
        good = {"sub": "svc-importer", "exp": now + 600, "iss": "https://id.example"}
        cases = {
            "right issuer and audience": ({**good, "aud": "catalog"}, 200),
            "wrong audience": ({**good, "aud": "billing"}, 401),
            "no audience": (good, 401),
            "wrong issuer": ({**good, "aud": "catalog", "iss": "https://evil.example"}, 401),
        }
        for case, (claims, status) in cases.items():
            token = jwt.encode(claims, private, algorithm="RS256")
            response = await http.post(
                service.graphql_url,
                json=create(f"S-{status}-{len(case)}"),
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status_code == status, (case, response.text)
        # The classic confusion attack: an HS256 token "signed" with the public key as secret.
        forged = hs256_signed_with({**good, "aud": "catalog"}, public.read_bytes())
        response = await http.post(
            service.graphql_url, json=create(), headers={"Authorization": f"Bearer {forged}"}
        )
        assert response.status_code == 401
        records = await read_all(kafka_bootstrap, env["EVENTS_TOPIC"])
        assert [r.headers["ce_authid"] for r in records] == ["svc-importer"]
    finally:
        service.stop()


def hs256_signed_with(claims: dict[str, Any], key: bytes) -> str:
    """An HS256 JWT with `key` as the HMAC secret, by hand: PyJWT refuses to use a public key
    as a secret, which is the point of the attack this builds."""
    segments = [
        base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=")
        for part in ({"alg": "HS256", "typ": "JWT"}, claims)
    ]
    signing_input = b".".join(segments)
    signature = hmac.new(key, signing_input, hashlib.sha256).digest()
    return b".".join([signing_input, base64.urlsafe_b64encode(signature).rstrip(b"=")]).decode()


@pytest.mark.parametrize(
    ("secret", "message"),
    [(None, "needs JWT_SECRET"), ("too-short", "at least 32 bytes")],
)
def test_the_command_service_will_not_start_without_a_usable_key(
    isolated_env: dict[str, str], secret: str | None, message: str
) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("JWT_")}
    done = subprocess.run(
        [sys.executable, "-m", "services.command"],
        cwd=ROOT,
        env={**base, **isolated_env, **({"JWT_SECRET": secret} if secret else {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert message in done.stderr


async def test_request_bodies_over_the_limit_get_413_and_the_service_stays_ready(
    command: Service, http: httpx.AsyncClient, kafka_bootstrap: str
) -> None:
    huge = create()
    huge["variables"]["i"]["description"] = "x" * 100_000
    response = await http.post(command.graphql_url, json=huge, headers=auth.headers())
    assert response.status_code == 413
    assert codes(response) == ["PAYLOAD_TOO_LARGE"]

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        body = json.dumps(huge).encode()
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    response = await http.post(
        command.graphql_url,
        content=chunks(),
        headers={**auth.headers(), "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert codes(response) == ["PAYLOAD_TOO_LARGE"]
    assert await read_all(kafka_bootstrap, command.env["EVENTS_TOPIC"]) == []
    assert command.ready()[0] == 200
    body = await graphql(http, command.graphql_url, CREATE, create()["variables"])
    assert body["data"]["createProduct"]["version"] == 1


async def test_one_request_cannot_carry_a_flood_of_aliased_mutations(
    command: Service, http: httpx.AsyncClient, kafka_bootstrap: str
) -> None:
    fields = " ".join(
        f'm{n}: createProduct(input: {{sku: "S{n}", name: "n", '
        f'price: {{amount: "1", currency: "EUR"}}}}) {{ id version }}'
        for n in range(11)
    )
    body = await graphql(http, command.graphql_url, f"mutation {{ {fields} }}")
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["maxMutations"] == 10
    assert await read_all(kafka_bootstrap, command.env["EVENTS_TOPIC"]) == []


async def test_production_mode_hides_the_schema_and_takes_cors_origins_from_configuration(
    isolated_env: dict[str, str], http: httpx.AsyncClient
) -> None:
    env = {**isolated_env, "PRODUCTION_MODE": "true", "CORS_ORIGINS": "https://shop.example"}
    services = [Service("command", env), Service("query", env)]
    try:
        for service in services:
            service.start()
            body = await graphql(http, service.graphql_url, "{ __schema { types { name } } }")
            assert body["errors"] and "introspection" in body["errors"][0]["message"].lower()
            page = await http.get(service.graphql_url, headers={"accept": "text/html"})
            assert page.status_code == 405
            assets = await http.get(f"{service.graphql_url}/assets/manifest.json")
            assert assets.status_code == 404  # GraphiQL's files are not served either
            allowed = await http.options(service.graphql_url, headers=preflight("shop"))
            assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
            assert "authorization" in allowed.headers["access-control-allow-headers"]
            refused = await http.options(service.graphql_url, headers=preflight("evil"))
            assert "access-control-allow-origin" not in refused.headers
    finally:
        for service in services:
            service.stop()


def preflight(site: str) -> dict[str, str]:
    return {
        "origin": f"https://{site}.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
    }


@pytest.fixture
def closed_query(isolated_env: dict[str, str]) -> Iterator[Service]:
    env = {**isolated_env, "QUERY_AUTH_REQUIRED": "true"}
    service = Service("query", env).start()
    yield service
    service.stop()


async def test_the_query_endpoint_can_require_tokens_over_http_and_websocket(
    closed_query: Service, http: httpx.AsyncClient
) -> None:
    query = {"query": "{ products(first: 1) { totalCount } }"}
    refused = await http.post(closed_query.graphql_url, json=query)
    assert refused.status_code == 401 and codes(refused) == ["UNAUTHENTICATED"]
    allowed = await http.post(closed_query.graphql_url, json=query, headers=auth.headers())
    assert allowed.json() == {"data": {"products": {"totalCount": 0}}}

    url = closed_query.graphql_url.replace("http://", "ws://")
    assert await websocket_init(url, {}) == ("closed", 4403)
    assert await websocket_init(url, {"Authorization": f"Bearer {auth.token()}"}) == (
        "connection_ack",
        None,
    )


async def websocket_init(url: str, payload: dict[str, str]) -> tuple[str, int | None]:
    """What the server answers to graphql-transport-ws's connection_init with `payload`."""
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        try:
            message = json.loads(await socket.recv())
        except websockets.ConnectionClosed as closed:
            return "closed", closed.rcvd.code if closed.rcvd else None
        return message["type"], None


async def test_a_request_that_runs_too_long_answers_a_retriable_timeout(
    isolated_env: dict[str, str], http: httpx.AsyncClient
) -> None:
    env = {**isolated_env, "REQUEST_TIMEOUT_S": "0.5", "MIN_VERSION_TIMEOUT_S": "30"}
    service = Service("query", env).start()
    try:
        query = "query($id: ID!) { product(id: $id, minVersion: 1) { id } }"
        started = time.monotonic()
        response = await http.post(
            service.graphql_url, json={"query": query, "variables": {"id": str(uuid.uuid4())}}
        )
        assert time.monotonic() - started < 5
        assert response.status_code == 200
        assert codes(response) == ["REQUEST_TIMEOUT"]
        assert response.json()["errors"][0]["extensions"]["retriable"] is True
        # Execution had begun, so `data` is null, not absent: 200 under the spec's media type too.
        assert response.json()["data"] is None
        strict = await http.post(
            service.graphql_url,
            json={"query": query, "variables": {"id": str(uuid.uuid4())}},
            headers={"Accept": "application/graphql-response+json"},
        )
        assert strict.status_code == 200 and codes(strict) == ["REQUEST_TIMEOUT"]
        assert service.ready()[0] == 200
    finally:
        service.stop()


async def test_responses_written_in_one_go_still_follow_http(isolated_env: dict[str, str]) -> None:
    """serve() holds a response's head until its body is written, to send both at once: over a
    raw socket, pipelined requests, `Expect: 100-continue` and `Connection: close` still get
    exactly their answers, in order, and the connection ends when asked to."""
    service = Service("query", isolated_env).start()
    try:
        body = json.dumps({"query": "{ products(first: 1) { totalCount } }"}).encode()

        def post(*headers: str) -> bytes:
            head = [
                "POST /graphql HTTP/1.1",
                "Host: query",
                "Content-Type: application/json",
                f"Content-Length: {len(body)}",
                *headers,
            ]
            return ("\r\n".join(head) + "\r\n\r\n").encode()

        reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
        # Two requests in one packet, then one whose body waits for the server's go-ahead.
        writer.write(post() + body + post() + body + post("Expect: 100-continue"))
        await writer.drain()
        continue_ = b"HTTP/1.1 100 Continue\r\n\r\n"
        received = await asyncio.wait_for(reader.readuntil(continue_), 10)
        writer.write(body + post("Connection: close") + body)
        await writer.drain()
        received += await asyncio.wait_for(reader.read(), 10)  # until the server closes
        writer.close()
        first, rest = received.split(continue_)
        ok = b"HTTP/1.1 200 OK\r\n"
        expected = b'{"data":{"products":{"totalCount":0}}}'
        assert [answer.endswith(expected) for answer in first.split(ok)] == [False, True, True]
        answers = rest.split(ok)
        assert [answer.endswith(expected) for answer in answers] == [False, True, True], rest
        assert answers[0] == b""
        assert b"connection: close" in answers[-1].lower()
        assert service.ready()[0] == 200
    finally:
        service.stop()
