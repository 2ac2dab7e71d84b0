"""Subscription events executed once per distinct operation, not once per subscriber.

graphql-core executes a subscription's selection set for every event and every subscriber (the
spec's MapSourceToResponseEvent). When many clients subscribe to one feed with the same query,
each event is executed identically for each of them, and that was most of the query service's
CPU on a fan-out (bench/fanout.py). A source that hands one event object to all its
subscribers can wrap it in a SharedEvent; SharingExecutor then executes each distinct
(operation, coerced variables) once per event and hands every later subscriber that same
ExecutionResult, which is what graphql-core would have computed for it.

Only valid where nothing under the subscription field depends on who asks or when: its
resolvers must not read the context (the connection, the caller), nor the root value beyond the
event, nor anything that may change between one subscriber's execution and the next (a clock).
A source whose resolvers do must not wrap its events. An execution that awaits something is not
shared (each subscriber executes it as before), so no subscriber ever waits on another's.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from graphql import ExecutionResult, OperationDefinitionNode
from graphql.execution import Executor
from graphql.pyutils import AwaitableOrValue

from shared.adapters import private_api


class SharedResult(ExecutionResult):
    """An ExecutionResult handed to many subscribers; `encoded` is for the transport to keep
    its message payload in, so that it is encoded once too (websocket.py)."""

    __slots__ = ("encoded",)

    def __init__(self, result: ExecutionResult) -> None:
        super().__init__(result.data, result.errors, result.extensions)
        self.encoded: str | None = None

    def __eq__(self, other: object) -> bool:
        # ExecutionResult's own compares classes one way only: keep `shared == plain` symmetric.
        if type(other) is ExecutionResult:
            return ExecutionResult.__eq__(other, self)
        return super().__eq__(other)


@dataclass(eq=False, slots=True)
class SharedEvent:
    """One source event given to every subscriber it concerns, with the results of executing
    each distinct operation on it (they live as long as the event does)."""

    value: Any
    results: dict[Hashable, tuple[OperationDefinitionNode, SharedResult]] = field(
        default_factory=dict
    )


class _Unhashable(Exception):
    pass


def _frozen(value: Any) -> Hashable:
    """A hashable image of coerced variable values; equal images mean equal values of the same
    types (1, 1.0 and True hash alike, so each leaf keeps its type)."""
    if isinstance(value, dict):
        return ("dict", tuple(sorted((key, _frozen(item)) for key, item in value.items())))
    if isinstance(value, list | tuple):
        return ("list", tuple(_frozen(item) for item in value))
    try:
        hash(value)
    except TypeError:
        raise _Unhashable from None
    return (type(value), value)


def sharing_key(executor: Executor[Any]) -> Hashable | None:
    """What a subscription event's result depends on besides the event: the operation (by
    identity: parsed documents are cached per query text, so subscribers of one text share it)
    and the coerced variables. None when the variables cannot be keyed: then nothing is shared.
    """
    try:
        variables = _frozen(executor.variable_values.coerced)
    except _Unhashable:
        return None
    return (id(executor.operation), variables)


class SharingExecutor(private_api.SubscriptionExecutor):
    """graphql-core's subscription executor, executing a SharedEvent once per sharing_key."""

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        executor = super().build_per_event_executor(payload)
        private_api.forget_subfield_memos(executor)
        return executor

    def execute_operation(self, serially: bool | None = None) -> AwaitableOrValue[Any]:
        event = self.root_value
        if not isinstance(event, SharedEvent) or (key := sharing_key(self)) is None:
            return super().execute_operation(serially)
        shared = event.results.get(key)
        # The entry holds its operation, so the id in the key cannot be reused meanwhile.
        if shared is not None and shared[0] is self.operation:
            return shared[1]
        result = super().execute_operation(serially)
        if not isinstance(result, ExecutionResult):
            return result
        shared = (self.operation, SharedResult(result))
        event.results[key] = shared
        return shared[1]
