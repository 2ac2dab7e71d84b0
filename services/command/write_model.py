"""The command side's view of the log: every product's state and every handled command id.

It is a cache of the topic, never a second source of truth: it is built by folding the log at
start-up and after any append whose outcome was unclear, and extended only with events the
broker has acknowledged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared.domain.decider import State, evolve
from shared.envelope import Envelope, Position

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Answer:
    """What a mutation returns; kept per command id so a retry gets the same answer."""

    id: str
    version: int
    event_id: str | None = None
    position: Position | None = None


class WriteModel:
    def __init__(self) -> None:
        self._states: dict[str, State] = {}
        self._answers: dict[str, Answer] = {}
        self.gaps = 0

    def state(self, product_id: str) -> State:
        return self._states.get(product_id)

    def answer_for(self, command_id: str) -> Answer | None:
        return self._answers.get(command_id)

    def apply(self, envelope: Envelope, position: Position) -> None:
        """Fold one logged event in. Events already folded are ignored, so replays are harmless."""
        state = self._states.get(envelope.product_id)
        version = state.version if state else 0
        if envelope.sequence <= version:
            return
        if envelope.sequence != version + 1:
            self.gaps += 1
            log.error(
                "gap in the log: product %s is at version %d but the next event has sequence %d",
                envelope.product_id,
                version,
                envelope.sequence,
            )
            return
        self._states[envelope.product_id] = evolve(state, envelope.event)
        if envelope.causation_id:
            self._answers[envelope.causation_id] = Answer(
                envelope.product_id, envelope.sequence, envelope.event_id, position
            )

    def __len__(self) -> int:
        return len(self._states)
