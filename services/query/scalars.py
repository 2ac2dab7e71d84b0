"""The DateTime scalar of query.graphql. (JSON needs no code: graphql-core passes it through.)"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ariadne import ScalarType
from graphql import GraphQLError, StringValueNode, ValueNode

datetime_scalar = ScalarType("DateTime")


@datetime_scalar.serializer
def serialize_datetime(value: datetime) -> str:
    """UTC with milliseconds and a Z: MongoDB keeps milliseconds, so nothing is invented."""
    if value.tzinfo is None:  # MongoDB hands back naive UTC unless the client is tz-aware
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@datetime_scalar.value_parser
def parse_datetime_value(value: Any) -> datetime:
    return parse_datetime(value)


def parse_datetime(value: Any, node: ValueNode | None = None) -> datetime:
    """An ISO-8601 date or date-time; without an offset it is taken as UTC.

    Raises GraphQLError, which graphql-core reports as is, naming the argument or variable,
    and which reaches the client as BAD_USER_INPUT (a ValueError would read as a server bug).
    """
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            try:
                # An instant outside years 1-9999 in UTC (0001-01-01T00:00+14:00) could not even
                # be sent to MongoDB (OverflowError, which read as a server bug).
                return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
            except OverflowError:
                raise GraphQLError(
                    f"DateTime: {value!r} is outside years 1-9999 in UTC", node
                ) from None
    raise GraphQLError(
        f"DateTime: {value!r} is not an ISO-8601 date-time such as 2024-05-01T12:00:00Z", node
    )


@datetime_scalar.literal_parser
def parse_datetime_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> datetime:
    if isinstance(node, StringValueNode):
        return parse_datetime(str(node.value), node)
    raise GraphQLError('DateTime must be a string such as "2024-05-01T12:00:00Z"', node)
