"""shared/dev_credentials.py: the development secret and token of `make up` and of the image."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
from pydantic import SecretStr

from shared.adapters.auth import Unauthenticated, verifier
from shared.dev_credentials import LIFETIME_S, mint, service_environment
from shared.settings import HttpSettings

ROOT = Path(__file__).resolve().parents[2]


def settings(**values: object) -> HttpSettings:
    """HttpSettings from VALUES only, whatever this process's environment holds."""
    return HttpSettings.model_construct(**values)  # defaults + VALUES, no environment read


def test_the_first_mint_creates_the_secret_and_later_ones_keep_it(tmp_path: Path) -> None:
    mint(tmp_path, settings())
    secret = (tmp_path / "dev-secret").read_text().strip()
    assert len(secret) >= 64
    token = (tmp_path / "dev-token").read_text().strip()
    for name in ("dev-secret", "dev-token"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name
    claims = jwt.decode(token, secret, algorithms=["HS256"])
    assert claims["sub"] == "developer"
    assert abs(claims["exp"] - (time.time() + LIFETIME_S)) < 60

    message = mint(tmp_path, settings())
    assert (tmp_path / "dev-secret").read_text().strip() == secret
    assert str(tmp_path / "dev-token") in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev-secret", "dev-token"]


def test_the_token_passes_the_issuer_and_audience_checks(tmp_path: Path) -> None:
    configured = settings(jwt_issuer="https://issuer.example", jwt_audience="catalog")
    mint(tmp_path, configured)
    secret = (tmp_path / "dev-secret").read_text().strip()
    token = (tmp_path / "dev-token").read_text().strip()
    with_key = configured.model_copy(update={"jwt_secret": SecretStr(secret)})
    check = verifier(with_key)
    assert check is not None
    assert check.verify(f"Bearer {token}").subject == "developer"
    other = verifier(with_key.model_copy(update={"jwt_audience": "someone-else"}))
    assert other is not None
    with pytest.raises(Unauthenticated):
        other.verify(f"Bearer {token}")


def test_a_configured_secret_signs_the_token_and_none_is_generated(tmp_path: Path) -> None:
    secret = "s" * 40
    mint(tmp_path, settings(jwt_secret=SecretStr(secret)))
    assert not (tmp_path / "dev-secret").exists()
    token = (tmp_path / "dev-token").read_text().strip()
    assert jwt.decode(token, secret, algorithms=["HS256"])["sub"] == "developer"


def test_a_secret_the_services_would_refuse_stops_the_mint(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="at least 32 bytes"):
        mint(tmp_path, settings(jwt_secret=SecretStr("short")))
    assert not (tmp_path / "dev-token").exists()


def test_a_public_key_means_no_development_token(tmp_path: Path) -> None:
    (tmp_path / "dev-token").write_text("stale\n")
    message = mint(tmp_path, settings(jwt_public_key="/run/secrets/jwt-public-key"))
    assert "JWT_PUBLIC_KEY is set" in message
    assert list(tmp_path.iterdir()) == []


def test_production_mode_never_generates_a_secret(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="never generated in production mode"):
        mint(tmp_path, settings(production_mode=True))
    assert list(tmp_path.iterdir()) == []
    mint(tmp_path, settings(production_mode=True, jwt_secret=SecretStr("p" * 32)))
    assert (tmp_path / "dev-token").exists()


def test_services_get_the_secret_unless_a_key_is_configured(tmp_path: Path) -> None:
    assert service_environment(tmp_path, {"A": "1"}) == {"A": "1"}  # no secret yet
    mint(tmp_path, settings())
    secret = (tmp_path / "dev-secret").read_text().strip()
    assert service_environment(tmp_path, {"A": "1"}) == {"A": "1", "JWT_SECRET": secret}
    for configured in ({"JWT_SECRET": "x" * 32}, {"JWT_PUBLIC_KEY": "/key.pem"}):
        assert service_environment(tmp_path, configured) == configured


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "yes", "on", "t", "y", "maybe"])
def test_production_mode_in_any_spelling_keeps_the_secret_back(tmp_path: Path, value: str) -> None:
    """Any value HttpSettings reads as true, or refuses, withholds the development secret."""
    mint(tmp_path, settings())
    env = service_environment(tmp_path, {"PRODUCTION_MODE": value})
    assert "JWT_SECRET" not in env


@pytest.mark.parametrize("value", ["false", "0", "no", "off", "FALSE"])
def test_development_mode_in_any_spelling_gets_the_secret(tmp_path: Path, value: str) -> None:
    mint(tmp_path, settings())
    assert "JWT_SECRET" in service_environment(tmp_path, {"PRODUCTION_MODE": value})


def test_the_entrypoint_execs_the_service_with_the_secret(tmp_path: Path) -> None:
    """`python -m shared.dev_credentials run DIR -- CMD`, as the image's ENTRYPOINT runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "PRODUCTION_"))}
    minted = subprocess.run(
        [sys.executable, "-m", "shared.dev_credentials", "mint", str(tmp_path / "c")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "dev-token" in minted.stdout
    secret = (tmp_path / "c" / "dev-secret").read_text().strip()
    code = "import os, sys; print(os.environ['JWT_SECRET'], os.getpid(), sys.argv[1])"
    entrypoint = [sys.executable, "-m", "shared.dev_credentials", "run", str(tmp_path / "c")]
    with subprocess.Popen(
        [*entrypoint, "--", sys.executable, "-c", code, "arg"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    ) as service:
        out, _ = service.communicate(timeout=60)
    assert service.returncode == 0
    printed_secret, pid, arg = out.split()
    assert (printed_secret, arg) == (secret, "arg")
    assert int(pid) == service.pid  # exec'd: the service is the process Docker signals
