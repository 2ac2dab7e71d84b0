"""Bearer-token authentication: who is calling, from a JWT the identity provider signed.

The services never issue tokens for real users; an identity provider does, and the services only
verify them: HS256 with a shared secret (simple deployments, the development stack) or RS256 with
the provider's public key (the services then hold nothing that can mint a token). The token's
`sub` claim is the principal recorded with every event the command service appends.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cachetools import TLRUCache
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from shared.settings import HttpSettings

# RFC 7518 §3.2: an HS256 key must be at least as long as the hash. PyJWT only warns.
MIN_SECRET_BYTES = 32


class Unauthenticated(Exception):
    """No token, or one that does not verify; the message says which, never the token."""


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str


class TokenVerifier:
    """Verifies bearer tokens, remembering the ones it verified until they expire.

    Clients reuse one token for many requests, and checking a signature costs more than the
    rest of a small mutation's HTTP handling. A remembered token is still refused after its
    `exp` (cachetools' TLRUCache drops each entry at its token's expiry); the memory is bounded,
    the least recently used token going first.
    """

    def __init__(
        self,
        key: Any,
        algorithm: str,
        issuer: str | None = None,
        audience: str | None = None,
        remember: int = 1024,
    ) -> None:
        self._key = key
        self._algorithm = algorithm
        self._issuer = issuer
        self._audience = audience
        self._verified: TLRUCache[str, tuple[Principal, float]] = TLRUCache(
            maxsize=remember, ttu=_expiry, timer=time.time
        )

    def verify(self, authorization: str | None) -> Principal:
        """The principal of an `Authorization: Bearer <jwt>` header value."""
        if not authorization:
            raise Unauthenticated("a bearer token is required (Authorization: Bearer <jwt>)")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("the Authorization header must be 'Bearer <jwt>'")
        known = self._verified.get(token)
        if known is not None:
            return known[0]
        principal, expires = self._decode(token)
        self._verified[token] = (principal, expires)
        return principal

    def _decode(self, token: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[self._algorithm],
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["sub", "exp"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the bearer token has expired") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"the bearer token is not valid: {exc}") from None
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject or len(subject) > 256:
            raise Unauthenticated("the bearer token's sub claim must be a non-empty string")
        return Principal(subject), float(claims["exp"])


def _expiry(_token: str, verified: tuple[Principal, float], _now: float) -> float:
    return verified[1]


def verifier(settings: HttpSettings) -> TokenVerifier | None:
    """The verifier the settings describe, or None if they configure no key (empty = unset)."""
    secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else ""
    public_key = settings.jwt_public_key or ""
    claims = (settings.jwt_issuer or None, settings.jwt_audience or None)
    if secret and public_key:
        raise ValueError("set JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256), not both")
    if secret:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes long")
        return TokenVerifier(secret.encode(), "HS256", *claims)
    if public_key:
        return TokenVerifier(_public_key(public_key), "RS256", *claims)
    return None


def required_verifier(settings: HttpSettings, who: str) -> TokenVerifier:
    """The verifier for an endpoint that must check tokens; stops the service at start-up, with
    one line saying why, when the settings give no usable key."""
    try:
        found = verifier(settings)
    except (ValueError, OSError) as exc:
        raise SystemExit(f"bad token-verification settings: {exc}") from None
    if found is None:
        raise SystemExit(
            f"{who} needs JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256) to verify bearer tokens; "
            "`make up` generates a development secret in .run/dev-secret"
        )
    return found


def _public_key(value: str) -> RSAPublicKey:
    """JWT_PUBLIC_KEY holds the PEM itself or the path of a PEM file; loaded (and so checked)
    at start-up, so a wrong key stops the service instead of refusing every request."""
    pem = value if value.lstrip().startswith("-----BEGIN") else Path(value).read_text()
    key = load_pem_public_key(pem.encode())
    if not isinstance(key, RSAPublicKey):
        raise ValueError("JWT_PUBLIC_KEY must be an RSA public key (RS256)")
    return key


def issue(secret: str, subject: str, lifetime_s: float, **claims: Any) -> str:
    """An HS256 token, for the development stack, the tests and the benchmarks only."""
    now = int(time.time())
    payload = {"sub": subject, "iat": now, "exp": now + int(lifetime_s), **claims}
    return jwt.encode(payload, secret, algorithm="HS256")
