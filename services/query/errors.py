"""Errors only the read side can raise, with their GraphQL codes (shared/errors.py).

None of them is a refusal of the domain: a read cannot break a rule of the catalog. A
`minVersion` wait that ran out is its own kind; the others are the infrastructure failing now.
"""

from __future__ import annotations

from shared.errors import CatalogError, ServiceUnavailable


class ConsistencyTimeout(CatalogError):
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


class SubscriberTooSlow(ServiceUnavailable):
    """A subscriber did not take changes as fast as they came, so some were dropped.

    Ending the subscription says so instead of silently skipping changes; the client subscribes
    again and re-reads what it needs.
    """

    def __init__(self) -> None:
        super().__init__("the subscriber fell too far behind and missed changes; subscribe again")


class ReadModelsUnavailable(ServiceUnavailable):
    """MongoDB cannot be reached right now (down, restarting, electing a primary).

    Nothing is wrong with the query, and nothing is wrong in the code: the same query succeeds
    once MongoDB is back, so the client is told to retry instead of being shown an internal error.
    """

    def __init__(self) -> None:
        super().__init__("the read models cannot be reached right now; retry")


class ListingTooBroad(CatalogError):
    """A listing read took MongoDB longer than the bound (QUERY_LISTING_MAX_TIME_MS).

    Only a filter that no index narrows gets here: `nameContains` is tried on every name in the
    range, so its cost grows with the catalog. Not retriable as it is: the same filter costs the
    same again; narrowed by a category (or a longer text that matches early) it is served.
    """

    code = "QUERY_TOO_BROAD"

    def __init__(self, max_time_ms: int) -> None:
        super().__init__(
            f"this listing needs more than the {max_time_ms} ms a listing may take in the "
            "database (a nameContains is tried on every product's name); narrow it with a "
            "category, or leave out totalCount",
            retriable=False,
        )
