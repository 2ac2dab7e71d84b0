"""Domain errors. Each carries the GraphQL error code of DESIGN.md §2 so entrypoints need no mapping table."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A command was refused. Nothing is appended for a refused command."""

    code = "BAD_REQUEST"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, Any] = extensions

    def __eq__(self, other: object) -> bool:
        return (
            type(self) is type(other)
            and isinstance(other, DomainError)
            and (self.message, self.extensions) == (other.message, other.extensions)
        )

    def __hash__(self) -> int:
        return hash((type(self), self.message))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, {self.extensions!r})"


class InvalidInput(DomainError):
    code = "BAD_USER_INPUT"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)
        self.field = field


class NotFound(DomainError):
    code = "NOT_FOUND"


class AlreadyExists(DomainError):
    code = "ALREADY_EXISTS"


class ProductDeleted(DomainError):
    code = "PRODUCT_DELETED"


class ConcurrencyConflict(DomainError):
    code = "CONCURRENCY_CONFLICT"

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(
            f"expected version {expected} but the product is at version {actual}",
            expectedVersion=expected,
            actualVersion=actual,
        )
