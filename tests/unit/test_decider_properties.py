"""Property tests: whatever commands arrive, the log the decider writes is gapless and folds to the state."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

from shared.domain.decider import fold
from shared.envelope import from_record, to_record
from tests.support.strategies import IDS, commands, write_side


@settings(max_examples=300, deadline=None)
@given(commands)
def test_any_command_sequence_gives_a_gapless_log_that_folds_to_the_state(batch: list[Any]) -> None:
    log, states = write_side(batch)
    for pid in IDS:
        mine = [e for e in log if e.product_id == pid]
        assert [e.sequence for e in mine] == list(range(1, len(mine) + 1))
        assert fold(e.event for e in mine) == states.get(pid)


@settings(max_examples=200, deadline=None)
@given(commands)
def test_every_event_survives_the_trip_through_a_kafka_record(batch: list[Any]) -> None:
    log, _ = write_side(batch)
    for envelope in log:
        assert from_record(*to_record(envelope)) == envelope
