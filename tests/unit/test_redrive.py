"""The re-drive's choices over fakes: which dead letter speaks for a record, what is applied,
what is written back (tests/integration/test_redrive.py runs it on Kafka and MongoDB)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.projector.redrive import Report, choose, redrive_letters
from shared.adapters.dead_letters import DeadLetter, Origin
from shared.backoff import Backoff
from shared.envelope import to_record
from tests.query.events import created, new_id, updated
from tests.support.fakes import FakeStore

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def letter(
    offset: int, reason: str, record: tuple[bytes, bytes, list[tuple[str, bytes]]], **kw: object
) -> DeadLetter:
    key, value, headers = record
    fields: dict[str, object] = {
        "partition": 0,
        "offset": offset,
        "time": T0 + timedelta(minutes=offset),
        "key": key,
        "value": value,
        "headers": headers,
        "reason": reason,
        "origin": Origin("events", 0, 100 + offset),
    }
    fields.update(kw)
    return DeadLetter(**fields)  # type: ignore[arg-type]


class Resent:
    def __init__(self) -> None:
        self.sent: list[tuple[DeadLetter, str]] = []

    async def resend(self, dead: DeadLetter, reason: str) -> None:
        self.sent.append((dead, reason))


class Store(FakeStore):
    async def check(self, envelopes: list[object]) -> object:
        raise AssertionError("not in a real run")


def test_the_dead_letter_written_last_speaks_for_its_origin_and_filters_apply_to_it() -> None:
    record = to_record(created(new_id()))
    first = letter(0, "unsupported version", record)
    again = letter(5, "version gap", record, origin=first.origin)
    other = letter(1, "value is not JSON", record)
    assert choose([again, other, first]) == [again, other]  # event-log order: origins 100, 101
    assert choose([first, again, other], reason="gap") == [again]
    assert choose([first, again, other], since=T0 + timedelta(minutes=2)) == [again]


async def test_applied_once_then_skipped_and_failures_written_back_only_on_a_new_reason() -> None:
    pid = new_id()
    store, resent = Store(), Resent()
    await store.apply([created(pid)])
    letters = [
        letter(0, "unsupported version", to_record(updated(pid, 2, name="B"))),
        letter(1, "value is not JSON", (pid.encode(), b"{", [])),
        letter(2, "unsupported version", to_record(updated(pid, 4, name="D"))),
    ]
    report = await redrive_letters(letters, store, resent, Report(dry_run=False))
    assert (report.applied, report.skipped, report.failed, report.rewritten) == (1, 0, 2, 2)
    assert store.products[pid]["name"] == "B"
    assert [(d.offset, r.split(":")[0]) for d, r in resent.sent] == [
        (1, "missing headers"),
        (2, "version gap"),
    ]
    # the next run sees the copies written back: nothing more to write, nothing to apply
    letters = [
        letters[0],
        *(letter(d.offset, r, (d.key, d.value, d.headers)) for d, r in resent.sent),
    ]  # type: ignore[arg-type]
    again = await redrive_letters(letters, store, resent, Report(dry_run=False))
    assert (again.applied, again.skipped, again.failed, again.rewritten) == (0, 1, 2, 0)
    assert len(resent.sent) == 2


async def test_backoff_doubles_up_to_its_cap_and_starts_over_after_a_success() -> None:
    backoff = Backoff(first_s=0.001, cap_s=0.003)
    delays = []
    for _ in range(4):
        delays.append(backoff.delay)
        await backoff.wait()
    assert delays == [0.001, 0.002, 0.003, 0.003]
    backoff.reset()
    assert backoff.delay == 0.001
