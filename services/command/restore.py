"""Restoring a partition's write-side state for its new owner: the changelog, not the history.

The changelog partition holds one record per product (its latest, once compacted), each
written in the same transaction as the events that produced it and carrying the event offset
the partition's state was complete through. A new owner therefore reads the changelog, then
folds only the events after that offset, which is normally nothing at all: restoring costs one
read of every product's state, however long the history is.

The same fold covers two other cases:
- **migration**: an event partition written before the changelog existed (or by a writer that
  did not keep it) has events past the changelog's offset; they are folded, and the resulting
  states are written to the changelog once, so the next owner restores from it;
- **repair**: a changelog record that is not a valid product state (malformed, or written by
  someone else) and is still the latest for its key is never trusted: it is reported, the
  partition's state is rebuilt by folding all its events, and the rebuilt states (plus
  tombstones for keys that name no product) are written over the bad records.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from prometheus_client import Counter

from services.command.ports import PartitionLog, StateWrite
from services.command.write_state import CorruptState, Gap, WriteState, after, decode, encode
from shared.envelope import BadRecord

log = logging.getLogger(__name__)

REPAIRS = Counter(
    "catalog_changelog_repairs_total",
    "Changelog partitions rebuilt by folding the events because a record could not be trusted",
)


@dataclass
class Restored:
    """A partition's write-side state, ready for its owner to decide commands against."""

    states: dict[str, bytes]  # product id -> encoded WriteState (write_state.encode)
    next_offset: int  # where the event partition's next record will be
    changelog_records: int  # records read from the changelog
    folded: int  # events folded from the event partition (0 unless migrating or repairing)
    repaired: str | None = None  # why the changelog was not trusted, if it was not


async def restore(log_: PartitionLog, horizon: int) -> Restored:
    latest: dict[bytes, bytes | None] = {}  # the last record's value per key (None: tombstone)
    untrusted: dict[bytes, str] = {}  # keys whose last record is not one of ours, and why
    through = -1
    records = 0
    async for record in log_.changelog():
        records += 1
        if record.foreign is not None:
            untrusted[record.key] = f"offset {record.offset}: {record.foreign}"
            continue
        untrusted.pop(record.key, None)
        latest[record.key] = record.value
        through = record.through if record.through is not None else through
    states: dict[str, bytes] = {}
    for key, value in latest.items():
        if key in untrusted or value is None:
            continue
        try:
            states[_product_id(key)] = _checked(key, value)
        except CorruptState as exc:
            untrusted[key] = str(exc)
    repaired = None
    if untrusted:
        key, reason = next(iter(untrusted.items()))
        repaired = f"{len(untrusted)} record(s) are not product states (key {key!r}, {reason})"
        log.error(
            "changelog partition %d cannot be trusted: %s; rebuilding it from the events",
            log_.partition,
            repaired,
        )
        REPAIRS.inc()
        states, through = {}, -1
    end = await log_.end_offset()
    folded, changed = await _fold_tail(log_, states, through + 1, end, horizon)
    writes: list[StateWrite] = [(pid.encode(), state) for pid, state in changed.items()]
    if repaired:  # every key the changelog names but the rebuilt partition has no product for
        named = set(untrusted) | {key for key, value in latest.items() if value is not None}
        writes += [(key, None) for key in named - {pid.encode() for pid in states}]
    if writes:
        await log_.write_states(writes, through=end - 1)
        log.info(
            "changelog partition %d: wrote %d states folded from %d events",
            log_.partition,
            len(writes),
            folded,
        )
    return Restored(states, end, records, folded, repaired)


async def _fold_tail(
    log_: PartitionLog, states: dict[str, bytes], start: int, end: int, horizon: int
) -> tuple[int, dict[str, bytes]]:
    """Fold the events from `start` to `end` into `states`; the count and what changed."""
    touched: dict[str, WriteState | None] = {}
    folded = 0
    async for item, offset in log_.events(start, end):
        if isinstance(item, BadRecord):
            log.warning(
                "partition %d offset %d is not one of our events: %s", log_.partition, offset, item
            )
            continue
        pid = item.product_id
        if pid in touched:
            state = touched[pid]
        else:
            state = decode(pid, states[pid]) if pid in states else None
        try:
            touched[pid] = after(state, item, offset, horizon)
        except Gap as gap:
            log.error("partition %d offset %d: %s; event not folded", log_.partition, offset, gap)
            continue
        folded += 1
    changed: dict[str, bytes] = {}
    for pid, state in touched.items():
        if state is None:
            continue
        encoded = encode(state)
        if states.get(pid) != encoded:
            states[pid] = changed[pid] = encoded
    return folded, changed


def _product_id(key: bytes) -> str:
    try:
        return key.decode()
    except UnicodeDecodeError:
        raise CorruptState("the key is not UTF-8 text") from None


def _checked(key: bytes, value: bytes) -> bytes:
    decode(_product_id(key), value)
    return value
