"""Bearer tokens for the tests: one signing secret for every service a test starts."""

from __future__ import annotations

import functools

from shared.adapters.auth import issue

SECRET = "test-secret-that-is-at-least-32-bytes-long"
SUBJECT = "test-user"


@functools.cache
def token(subject: str = SUBJECT, lifetime_s: float = 3600, secret: str = SECRET) -> str:
    """Minted once per argument set: every request of a test run carries the same token, as a
    real client's would (a test session is far shorter than the lifetime)."""
    return issue(secret, subject, lifetime_s)


def headers(subject: str = SUBJECT) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(subject)}"}
