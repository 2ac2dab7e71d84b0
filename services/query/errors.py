"""Errors only the read side can raise, carrying their GraphQL codes like shared.domain.errors."""

from __future__ import annotations

from shared.domain.errors import DomainError


class ConsistencyTimeout(DomainError):
    """The read model did not reach the version a client asked for within the wait's bound.

    Not a failure of the write: the event is in the log and will be projected; the client may
    retry or read without `minVersion`.
    """

    code = "CONSISTENCY_TIMEOUT"

    def __init__(self, expected: int, current: int) -> None:
        seen = f"only version {current}" if current else "not yet seen it"
        super().__init__(
            f"waited for version {expected} of this product, but the read model has {seen}; "
            "the projector is behind, retry later",
            expectedVersion=expected,
            currentVersion=current,
        )


class SubscriberTooSlow(DomainError):
    """A subscriber did not take changes as fast as they came, so some were dropped.

    Ending the subscription says so instead of silently skipping changes; the client subscribes
    again and re-reads what it needs.
    """

    code = "SERVICE_UNAVAILABLE"

    def __init__(self) -> None:
        super().__init__("the subscriber fell too far behind and missed changes; subscribe again")


class ReadModelsUnavailable(DomainError):
    """MongoDB cannot be reached right now (down, restarting, electing a primary).

    Nothing is wrong with the query, and nothing is wrong in the code: the same query succeeds
    once MongoDB is back, so the client is told to retry instead of being shown an internal error.
    """

    code = "SERVICE_UNAVAILABLE"

    def __init__(self) -> None:
        super().__init__("the read models cannot be reached right now; retry", retriable=True)
