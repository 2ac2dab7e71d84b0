"""Errors a client is told about: a GraphQL error code, a message and `extensions`.

Two kinds, with separate base classes: a refusal of the domain (shared/domain/errors.py:
`DomainError`, the command was wrong for the product's state, nothing was written) and a
failure of the infrastructure (`ServiceUnavailable`: Kafka or MongoDB could not be used right
now; the same request may succeed later). The GraphQL edge formats both the same way.
"""

from __future__ import annotations

from typing import Any


class CatalogError(Exception):
    """An error with the GraphQL code and extensions its client receives."""

    code = "BAD_REQUEST"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, Any] = extensions

    def __eq__(self, other: object) -> bool:
        return (
            type(self) is type(other)
            and isinstance(other, CatalogError)
            and (self.message, self.extensions) == (other.message, other.extensions)
        )

    def __hash__(self) -> int:
        return hash((type(self), self.message))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, {self.extensions!r})"


class ServiceUnavailable(CatalogError):
    """The infrastructure could not serve the request now; retrying it is safe.

    Always `retriable: true`. On the write side a retry must carry the same commandId, which
    `extensions.commandId` repeats when the outcome of the first attempt is unknown.
    """

    code = "SERVICE_UNAVAILABLE"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message, retriable=True, **extensions)


class RelayedError(CatalogError):
    """An error another instance answered, passed on to the client exactly as it was given."""

    def __init__(self, code: str, message: str, extensions: dict[str, Any]) -> None:
        super().__init__(message, **extensions)
        self.code = code
