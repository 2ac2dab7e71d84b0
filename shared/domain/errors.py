"""Refusals of the domain. Each carries its GraphQL error code (docs/architecture.md, "Errors"), so entrypoints need no mapping table."""

from __future__ import annotations

from shared.errors import CatalogError


class DomainError(CatalogError):
    """A command was refused by the domain's rules. Nothing is appended for a refused command."""


class InvalidInput(DomainError):
    code = "BAD_USER_INPUT"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)
        self.field = field


class NotFound(DomainError):
    code = "NOT_FOUND"


class AlreadyExists(DomainError):
    code = "ALREADY_EXISTS"


class ProductIsDeleted(DomainError):
    """The command needs a live product, and this one was deleted (not the event: that is
    `shared.domain.events.ProductDeleted`)."""

    code = "PRODUCT_DELETED"


class ConcurrencyConflict(DomainError):
    code = "CONCURRENCY_CONFLICT"

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(
            f"expected version {expected} but the product is at version {actual}",
            expectedVersion=expected,
            actualVersion=actual,
        )
