"""Re-drive dead letters: feed the records of `<EVENTS_TOPIC>.dlq` back through the projector.

    python -m services.projector.redrive [--dry-run] [--since TIME] [--reason TEXT]
    (or: make redrive ARGS='--dry-run --reason "unsupported version"')

After a fix — say the projector learnt a schema version it did not know — the records it
dead-lettered can be applied after all. Each dead letter is parsed with the projector's own
`from_record` (upcasting included) and applied by its own `ReadModelWriter`, version guard
included: one already applied, or superseded by a later event of its product, changes nothing
and counts as a redelivery. A record that still cannot be applied stays in the dead-letter
topic: if it fails for a new reason, it is written there once more with that reason (same
origin headers, same dead-letter partition). Nothing is ever appended to the event log.

What a re-drive remembers, and why a second one changes nothing: it keeps no bookkeeping of
its own. What it applied, the read models remember (each product's version), so applying it
again is a redelivery the guard skips; after a rebuild by code that could not read it, it is
applied again, as it should be. What failed, the dead-letter topic remembers: the copy of a
record written last carries its latest reason, and a record failing again for that same reason
is not written again. So a second re-drive writes nothing to MongoDB or Kafka; its report
counts the records it looked at as skipped and failed.

Per origin (event-log topic, partition, offset) only the dead letter written last is
considered; `--since` keeps those written at or after TIME, `--reason` those whose reason
contains TEXT. Records are applied in event-log order, so a product's events dead-lettered one
after the other apply in turn.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from services.projector.batch import BatchResult
from services.projector.writer import ReadModelWriter
from shared.adapters import mongo
from shared.adapters.dead_letters import (
    DeadLetter,
    DeadLetterProducer,
    latest_by_origin,
    read_dead_letters,
)
from shared.adapters.kafka_log import ensure_topics
from shared.envelope import BadRecord, Envelope, from_record
from shared.logging import configure_logging
from shared.settings import ProjectorSettings

log = logging.getLogger(__name__)
CHUNK = 500  # dead letters applied per read-model transaction


class Store(Protocol):
    async def apply(self, envelopes: Sequence[Envelope]) -> BatchResult: ...

    async def check(self, envelopes: Sequence[Envelope]) -> BatchResult: ...


class Resender(Protocol):
    async def resend(self, letter: DeadLetter, reason: str) -> None: ...


@dataclass
class Report:
    dry_run: bool
    dead_letters: int = 0  # one per origin, before the filters
    considered: int = 0
    applied: int = 0
    skipped: int = 0  # redeliveries: applied before, or superseded
    failed: int = 0
    rewritten: int = 0  # failures written back because their reason changed

    def summary(self) -> str:
        would = "would be " if self.dry_run else ""
        return (
            f"{self.considered} of {self.dead_letters} dead letters re-driven"
            f"{' (dry run: nothing written)' if self.dry_run else ''}: "
            f"{self.applied} {would}applied, {self.skipped} {would}skipped as redeliveries, "
            f"{self.failed} {'would fail' if self.dry_run else 'failed'} again "
            f"({self.rewritten} {would}written back with a new reason)"
        )


def choose(
    letters: Sequence[DeadLetter], since: datetime | None = None, reason: str | None = None
) -> list[DeadLetter]:
    """The dead letter written last per origin, in event-log order, filtered."""
    return [
        letter
        for letter in latest_by_origin(letters)
        if (since is None or letter.time >= since) and (reason is None or reason in letter.reason)
    ]


async def redrive_letters(
    letters: Sequence[DeadLetter], store: Store, resender: Resender | None, report: Report
) -> Report:
    """Apply what can be applied; write back what failed for a new reason (not in a dry run,
    `resender` None)."""
    report.considered = len(letters)
    readable: list[tuple[DeadLetter, Envelope]] = []
    failures: list[tuple[DeadLetter, str]] = []
    for letter in letters:
        try:
            readable.append((letter, from_record(letter.key, letter.value, letter.headers)))
        except BadRecord as exc:
            failures.append((letter, str(exc)))
    # A dry run folds everything at once: no transaction to bound, and a product's later
    # events must see its earlier ones as applied.
    size = len(readable) if report.dry_run else CHUNK
    for start in range(0, len(readable), max(size, 1)):
        chunk = readable[start : start + size]
        envelopes = [envelope for _, envelope in chunk]
        result = await (store.check if report.dry_run else store.apply)(envelopes)
        report.applied += result.applied
        report.skipped += result.skipped
        letter_of = {id(envelope): letter for letter, envelope in chunk}
        for envelope, version in result.gaps:
            failures.append(
                (
                    letter_of[id(envelope)],
                    f"version gap: product {envelope.product_id} is at version {version}, "
                    f"the event has sequence {envelope.sequence}",
                )
            )
    for letter, reason in failures:
        report.failed += 1
        origin = letter.origin
        where = f"{origin.topic}[{origin.partition}]@{origin.offset}"
        if reason == letter.reason:
            log.info("%s fails again, as before: %s", where, reason)
            continue
        report.rewritten += 1
        log.warning("%s fails again, now because: %s", where, reason)
        if resender is not None:
            await resender.resend(letter, reason)
    return report


async def redrive(
    settings: ProjectorSettings,
    dry_run: bool = False,
    since: datetime | None = None,
    reason: str | None = None,
) -> Report:
    await ensure_topics(settings)
    everything = await read_dead_letters(settings)
    report = Report(dry_run, dead_letters=len(latest_by_origin(everything)))
    letters = choose(everything, since, reason)
    client = mongo.connect(settings, "catalog-redrive")
    producer = None if dry_run else DeadLetterProducer(settings)
    try:
        if producer is not None:
            await producer.start()
        return await redrive_letters(
            letters, ReadModelWriter(mongo.database(client, settings)), producer, report
        )
    finally:
        if producer is not None:
            await producer.stop()
        await client.close()


def moment(text: str) -> datetime:
    """An ISO-8601 date or date-time; without an offset, UTC."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 date or date-time: {text!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m services.projector.redrive",
        description="Re-apply dead-lettered records through the projector (version guard "
        "included); failures stay in the dead-letter topic. Never writes to the event log.",
    )
    parser.add_argument("--dry-run", action="store_true", help="report only; write nothing")
    parser.add_argument(
        "--since", type=moment, help="only records dead-lettered at or after this ISO-8601 time"
    )
    parser.add_argument("--reason", help="only records whose dlq_reason contains this text")
    args = parser.parse_args(argv)
    settings = ProjectorSettings()
    configure_logging("redrive", settings.log_level)
    report = asyncio.run(redrive(settings, args.dry_run, args.since, args.reason))
    print(report.summary())
    sys.stdout.flush()


if __name__ == "__main__":
    main()
