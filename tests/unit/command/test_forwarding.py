"""The wire format between instances (forwarding.py): the owner decides the very command the
client sent, and the client gets the very answer or error the owner gave."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings

from services.command.forwarding import (
    answer_body,
    command_body,
    command_from,
    error_body,
    reply_from,
)
from services.command.write_state import Answer
from shared.domain.errors import ConcurrencyConflict, InvalidInput
from shared.envelope import Position
from shared.errors import CatalogError, RelayedError, ServiceUnavailable
from tests.support.strategies import commands


@settings(max_examples=200, deadline=None)
@given(commands)
def test_every_command_crosses_the_wire_unchanged(batch: list[Any]) -> None:
    for command in batch:
        received = command_from(orjson.loads(orjson.dumps(command_body(command))))
        assert received == command
        if hasattr(command, "changes"):  # what the client did not send stays unsent
            assert received.changes.sent() == command.changes.sent()


@pytest.mark.parametrize("answer", [Answer("p", 3, "e", Position(2, 41)), Answer("p", 1)])
def test_answers_cross_the_wire_unchanged(answer: Answer) -> None:
    assert reply_from(orjson.loads(orjson.dumps(answer_body(answer)))) == answer


@pytest.mark.parametrize(
    "error",
    [
        ConcurrencyConflict(1, 2),
        InvalidInput("price.amount", "too many decimals"),
        ServiceUnavailable("outcome unknown", commandId="c1"),
    ],
)
def test_errors_are_relayed_with_their_code_message_and_extensions(error: CatalogError) -> None:
    with pytest.raises(RelayedError) as relayed:
        reply_from(orjson.loads(orjson.dumps(error_body(error))))
    assert (relayed.value.code, relayed.value.message, relayed.value.extensions) == (
        error.code,
        error.message,
        error.extensions,
    )


@pytest.mark.parametrize("body", [None, [], {"type": "DropTable"}, {"type": "CreateProduct"}])
def test_a_body_that_is_no_command_is_refused(body: Any) -> None:
    with pytest.raises(ValueError):
        command_from(body)
