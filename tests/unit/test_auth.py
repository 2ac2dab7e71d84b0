"""Token verification without infrastructure: what is accepted, what is refused, and that
remembering verified tokens never outlives their expiry."""

from __future__ import annotations

import time

import jwt
import pytest

from shared.adapters.auth import Principal, TokenVerifier, Unauthenticated, issue, verifier
from shared.settings import HttpSettings

SECRET = "unit-test-secret-of-at-least-32-bytes"


def test_a_valid_token_names_its_subject() -> None:
    check = TokenVerifier(SECRET.encode(), "HS256")
    assert check.verify(f"Bearer {issue(SECRET, 'alice', 60)}") == Principal("alice")
    assert check.verify(f"bearer   {issue(SECRET, 'bob', 60)}") == Principal("bob")


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    check = TokenVerifier(SECRET.encode(), "HS256")
    header = f"Bearer {issue(SECRET, 'alice', 1)}"
    assert check.verify(header) == Principal("alice")
    time.sleep(1.1)
    with pytest.raises(Unauthenticated, match="expired"):
        check.verify(header)


def test_the_memory_of_verified_tokens_is_bounded() -> None:
    check = TokenVerifier(SECRET.encode(), "HS256", remember=3)
    for n in range(10):
        check.verify(f"Bearer {issue(SECRET, f'user-{n}', 60)}")
    assert len(check._verified) == 3


@pytest.mark.parametrize(
    ("issuer", "audience", "claims", "accepted"),
    [
        ("https://id.example", "catalog", {"iss": "https://id.example", "aud": "catalog"}, True),
        ("https://id.example", "catalog", {"iss": "https://id.example", "aud": "other"}, False),
        ("https://id.example", None, {"iss": "https://evil.example"}, False),
        (None, None, {"iss": "anyone"}, True),
    ],
)
def test_issuer_and_audience_are_checked_when_configured(
    issuer: str | None, audience: str | None, claims: dict[str, str], accepted: bool
) -> None:
    check = TokenVerifier(SECRET.encode(), "HS256", issuer, audience)
    token = jwt.encode(
        {"sub": "alice", "exp": int(time.time()) + 60, **claims}, SECRET, algorithm="HS256"
    )
    if accepted:
        assert check.verify(f"Bearer {token}") == Principal("alice")
    else:
        with pytest.raises(Unauthenticated):
            check.verify(f"Bearer {token}")


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"jwt_secret": "short"}, "at least 32 bytes"),
        ({"jwt_secret": SECRET, "jwt_public_key": "-----BEGIN PUBLIC KEY-----"}, "not both"),
        (
            {"jwt_public_key": "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----"},
            "PEM",
        ),
    ],
)
def test_unusable_key_settings_stop_the_service_at_start(
    settings: dict[str, str], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        verifier(HttpSettings(**settings))  # type: ignore[arg-type]


def test_empty_key_settings_mean_no_key() -> None:
    assert verifier(HttpSettings(jwt_secret="", jwt_public_key="")) is None  # type: ignore[arg-type]
