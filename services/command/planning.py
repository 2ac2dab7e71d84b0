"""Batch planning: given the write-side states and a batch of commands, the decisions. Pure.

A partition's writer (partition_writer.py) takes the commands queued for its partition as one
batch and appends the batch's events in one Kafka transaction. Which events, and what each
command is answered, is decided here without I/O, so the rules are tested given/when/then:

- a command whose commandId the product remembers is a retry: it appends nothing and is
  answered with the first answer (the plan says where the first event is: `Remembered`; the
  writer reads its id back from the log), or with the very answer of an earlier command of the
  same batch;
- every other command is decided (shared/domain/decider.py) against the state left by the
  commands before it in the batch, so several commands of one product in one batch behave as if
  sent one after the other (a retry later in the same batch included);
- a refused command gets its DomainError and appends nothing; an update that changes nothing
  is answered with the product's version and appends nothing.

Every event is given the offset it will have in the partition: the writer owns the partition
(nobody else appends to it) and the log adds one commit marker after each transaction, so the
offsets are known before the append, and the append checks that they hold (ports.py). The
answers, and the recent commands remembered in the new states, therefore carry final positions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from services.command.write_state import Answer, Remembered, WriteState, after
from shared.domain.commands import AnyCommand
from shared.domain.decider import decide
from shared.domain.errors import DomainError
from shared.domain.events import ProductEvent
from shared.envelope import Envelope, Position, TraceContext, new_envelope

Outcome = Answer | Remembered | DomainError
# (event, sequence, causation id, correlation id, actor, trace) -> the envelope to append
Stamp = Callable[[ProductEvent, int, str, str, str, TraceContext | None], Envelope]


@dataclass(frozen=True, slots=True)
class IssuedCommand:
    """A command and who issued it: the authenticated subject and the request's correlation id.

    `trace`: the trace context it was issued in (the request's), which its events carry on.
    `replayable` false: decide it even if the product seems to remember its commandId (the
    writer found that the remembered event belongs to another command: a fingerprint collision).
    """

    command: AnyCommand
    correlation_id: str
    actor: str
    replayable: bool = True
    trace: TraceContext | None = None


@dataclass(frozen=True)
class Plan:
    outcomes: list[Outcome]  # one per request, in order; valid once the envelopes are appended
    envelopes: list[Envelope]  # to append in one transaction, at first_offset, first_offset + 1, …
    states: dict[str, WriteState]  # each changed product's state after the append
    first_offset: int

    @property
    def through(self) -> int:
        """The offset of the plan's last event."""
        return self.first_offset + len(self.envelopes) - 1


def plan(
    requests: Sequence[IssuedCommand],
    state_of: Callable[[str], WriteState | None],
    partition: int,
    first_offset: int,
    horizon: int,
    stamp: Stamp = new_envelope,
) -> Plan:
    """Decide a batch of one partition's commands against the states `state_of` returns."""
    changed: dict[str, WriteState] = {}
    envelopes: list[Envelope] = []
    outcomes: list[Outcome] = []
    appended: dict[tuple[str, str], Answer] = {}  # (product, commandId) -> answer, this batch
    for request in requests:
        command = request.command
        if (earlier := appended.get((command.id, command.command_id))) is not None:
            outcomes.append(earlier)
            continue
        state = changed[command.id] if command.id in changed else state_of(command.id)
        if (
            request.replayable
            and state is not None
            and (first := state.remembered(command.command_id, partition))
        ):
            outcomes.append(first)
            continue
        try:
            events = decide(command, state.product if state else None)
        except DomainError as refused:
            outcomes.append(refused)
            continue
        if not events:
            assert state is not None  # only an update of an existing product decides nothing
            outcomes.append(Answer(state.product.id, state.version))
            continue
        for event in events:
            sequence = (state.version if state else 0) + 1
            envelope = stamp(
                event,
                sequence,
                command.command_id,
                request.correlation_id,
                request.actor,
                request.trace,
            )
            offset = first_offset + len(envelopes)
            envelopes.append(envelope)
            state = after(state, envelope, offset, horizon)
        assert state is not None
        changed[command.id] = state
        answer = Answer(command.id, state.version, envelope.event_id, Position(partition, offset))
        appended[(command.id, command.command_id)] = answer
        outcomes.append(answer)
    return Plan(outcomes, envelopes, changed, first_offset)
