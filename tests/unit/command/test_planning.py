"""Batch planning, given/when/then: given these products, when this batch, then these answers
and these events (planning.py). No Kafka: the plan is a pure function of states and commands."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from services.command.graphql import update_command
from services.command.planning import IssuedCommand, Outcome, Plan, plan
from services.command.write_state import Answer, Remembered, WriteState, after, fingerprint
from shared.domain.commands import CreateProduct, DeleteProduct, parse
from shared.domain.errors import AlreadyExists, ConcurrencyConflict, DomainError, ProductIsDeleted
from shared.domain.events import ProductCreated, ProductEvent, ProductUpdated
from shared.domain.events import ProductDeleted as Deleted
from shared.envelope import Envelope, Position, TraceContext

A = "6f1c2c6b-8d11-4a59-9a1f-3f7c2a5e8f0e"
B = "0b8c2d4e-6f10-4a2b-8c3d-5e7f9a1b3c5d"
PARTITION = 3
HORIZON = 4


def create(pid: str = A, **fields: Any) -> CreateProduct:
    data = {"id": pid, "sku": "MUG-1", "name": "Mug", "price": {"amount": "10", "currency": "EUR"}}
    return parse(CreateProduct, {**data, **fields})


def update(pid: str = A, **fields: Any) -> Any:
    return update_command({"id": pid, **fields})


def delete(pid: str = A, **fields: Any) -> DeleteProduct:
    return parse(DeleteProduct, {"id": pid, **fields})


def stamp() -> Any:
    """Envelopes with ids e1, e2, … so the expected answers can be written down."""
    ids = (f"e{n}" for n in itertools.count(1))

    def make(
        event: ProductEvent,
        sequence: int,
        causation: str,
        correlation: str,
        actor: str,
        trace: TraceContext | None,
    ) -> Envelope:
        return Envelope(
            event,
            next(ids),
            sequence,
            datetime(2026, 1, 1, tzinfo=UTC),
            causation,
            correlation,
            auth_id=actor,
            trace=trace,
        )

    return make


@dataclass
class Scenario:
    states: dict[str, WriteState] = field(default_factory=dict)
    next_offset: int = 100
    result: Plan | None = None

    def given(self, *commands: Any) -> Scenario:
        """The products as these commands, decided and appended one by one, left them."""
        for command in commands:
            done = plan(
                [issued(command)], self.states.get, PARTITION, self.next_offset, HORIZON, stamp()
            )
            self.states.update(done.states)
            self.next_offset = done.through + 2 if done.envelopes else self.next_offset
        return self

    def when(self, *commands: Any) -> Scenario:
        self.result = plan(
            [issued(c) for c in commands],
            self.states.get,
            PARTITION,
            self.next_offset,
            HORIZON,
            stamp(),
        )
        return self

    def then_outcomes(self, *expected: Outcome) -> Scenario:
        assert self.result is not None
        assert self.result.outcomes == list(expected)
        return self

    def then_events(self, *expected: tuple[type[ProductEvent], int]) -> Scenario:
        """(event type, ce_sequence) of each envelope to append, in order."""
        assert self.result is not None
        assert [(type(e.event), e.sequence) for e in self.result.envelopes] == list(expected)
        return self

    def then_error(self, error: type[DomainError]) -> Scenario:
        assert self.result is not None
        (outcome,) = self.result.outcomes
        assert isinstance(outcome, error)
        assert self.result.envelopes == [] and self.result.states == {}
        return self


def issued(command: Any) -> IssuedCommand:
    return IssuedCommand(command, "corr", "tester")


def given(*commands: Any) -> Scenario:
    return Scenario().given(*commands)


def test_a_create_appends_one_event_whose_answer_carries_its_planned_position() -> None:
    (
        given()
        .when(create(commandId="c1"))
        .then_events((ProductCreated, 1))
        .then_outcomes(Answer(A, 1, "e1", Position(PARTITION, 100)))
    )


def test_each_event_carries_the_trace_its_command_was_issued_in() -> None:
    caller = TraceContext("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "k=v")
    traced = IssuedCommand(create(commandId="c1"), "corr", "tester", trace=caller)
    untraced = issued(create(B, commandId="c2"))
    result = plan([traced, untraced], {}.get, PARTITION, 100, HORIZON, stamp())
    assert [e.trace for e in result.envelopes] == [caller, None]


def test_commands_of_one_product_in_one_batch_are_decided_one_after_the_other() -> None:
    scenario = given(create(commandId="c1")).when(  # appended at 100, its commit marker at 101
        update(name="Cup", expectedVersion=1), update(name="Bowl", expectedVersion=1), delete()
    )
    scenario.then_events((ProductUpdated, 2), (Deleted, 3))
    outcomes = scenario.result.outcomes  # type: ignore[union-attr]
    assert outcomes[0] == Answer(A, 2, "e1", Position(PARTITION, 102))
    assert isinstance(outcomes[1], ConcurrencyConflict)
    assert outcomes[1].extensions == {"expectedVersion": 1, "actualVersion": 2}
    assert outcomes[2] == Answer(A, 3, "e2", Position(PARTITION, 103))
    assert scenario.result.states[A].product.deleted  # type: ignore[union-attr]


def test_a_retry_appends_nothing_and_is_answered_from_where_the_first_event_is() -> None:
    first = Remembered(A, "c1", 1, Position(PARTITION, 100))
    (
        given(create(commandId="c1"))
        .when(create(commandId="c1", name="Different"), update(name="Cup", commandId="c1"))
        .then_events()
        .then_outcomes(first, first)
    )


def test_a_retry_found_to_be_another_commands_event_is_decided() -> None:
    scenario = given(create(commandId="c1"))
    again = IssuedCommand(update(name="Cup", commandId="c1"), "corr", "tester", replayable=False)
    result = plan([again], scenario.states.get, PARTITION, scenario.next_offset, HORIZON, stamp())
    assert [type(e.event) for e in result.envelopes] == [ProductUpdated]


def test_a_retry_later_in_the_same_batch_gets_the_answer_of_the_first() -> None:
    scenario = given().when(create(commandId="c1"), create(commandId="c1"))
    scenario.then_events((ProductCreated, 1))
    outcomes = scenario.result.outcomes  # type: ignore[union-attr]
    assert outcomes[0] == outcomes[1] == Answer(A, 1, "e1", Position(PARTITION, 100))


def test_the_same_command_id_on_another_product_is_another_command() -> None:
    (
        given(create(commandId="c1"))
        .when(create(B, commandId="c1"))
        .then_events((ProductCreated, 1))
        .then_outcomes(Answer(B, 1, "e1", Position(PARTITION, 102)))
    )


def test_refusals_and_updates_that_change_nothing_append_nothing() -> None:
    given(create()).when(create()).then_error(AlreadyExists)
    given(create(), delete()).when(update(name="Cup")).then_error(ProductIsDeleted)
    given(create()).when(update(name="Mug")).then_events().then_outcomes(Answer(A, 1))


def test_only_the_last_k_commands_are_remembered() -> None:
    commands = [update(name=f"n{i}", commandId=f"u{i}") for i in range(HORIZON + 2)]
    scenario = given(create(commandId="c1"), *commands)
    assert scenario.states[A].commands == tuple(fingerprint(f"u{i}") for i in range(2, HORIZON + 2))
    last = scenario.states[A].remembered(f"u{HORIZON + 1}", PARTITION)
    assert last is not None and last.version == HORIZON + 3  # the create was 1
    # Beyond the horizon a retry is decided again: here it changes the name back, a new event.
    scenario.when(update(name="n0", commandId="u0")).then_events((ProductUpdated, HORIZON + 4))


@pytest.mark.parametrize("horizon", [0, 1])
def test_a_horizon_of_zero_remembers_nothing(horizon: int) -> None:
    state = None
    first = plan([issued(create(commandId="c1"))], lambda _: None, 0, 0, horizon, stamp())
    state = first.states[A]
    assert len(state.commands) == len(state.offsets) == horizon
    again = plan([issued(create(commandId="c1"))], {A: state}.get, 0, 2, horizon, stamp())
    assert isinstance(again.outcomes[0], AlreadyExists) == (horizon == 0)


def test_the_states_of_the_plan_are_the_fold_of_its_events() -> None:
    scenario = given(create(commandId="c1")).when(
        update(name="Cup", commandId="u1"), update(tags=["a"], commandId="u2"), create(B)
    )
    result = scenario.result
    assert result is not None
    folded: dict[str, WriteState | None] = {pid: scenario.states.get(pid) for pid in (A, B)}
    for offset, envelope in enumerate(result.envelopes, start=result.first_offset):
        folded[envelope.product_id] = after(folded[envelope.product_id], envelope, offset, HORIZON)
    assert result.states == folded
