"""One batch of events folded over the products it touches, in memory: what the writer writes.

Pure. The live writer runs it over the documents it read inside its transaction, the dead-letter
re-drive's dry run over the documents as they are, and the unit tests' fake store over a dict,
so all three apply exactly the version guard and the fold of shared/read_model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from shared.envelope import Envelope
from shared.read_model import history, products
from shared.read_model.category_stats import Changes
from shared.read_model.documents import HistoryDocument, ProductDocument


@dataclass
class BatchResult:
    applied: int = 0
    skipped: int = 0
    gaps: list[tuple[Envelope, int]] = field(default_factory=list)  # (event, version found)
    last_event_time: datetime | None = None


@dataclass
class FoldedBatch:
    """The documents after the batch and what it changed; `result` counts the verdicts."""

    before: Mapping[str, ProductDocument]
    after: dict[str, ProductDocument]
    history: list[HistoryDocument]
    changes: Changes
    result: BatchResult

    def changed(self) -> list[tuple[ProductDocument | None, ProductDocument]]:
        """(stored document or None, new document) of each product the batch moved."""
        return [
            (self.before.get(product_id), doc)
            for product_id, doc in self.after.items()
            if (old := self.before.get(product_id)) is None or old["version"] != doc["version"]
        ]


def fold(before: Mapping[str, ProductDocument], envelopes: Sequence[Envelope]) -> FoldedBatch:
    """The events in order over `before` (the stored documents of their products, where any):
    each admitted by the version guard is applied; redeliveries are skipped, holes refused."""
    result = BatchResult()
    current = dict(before)
    written: list[HistoryDocument] = []
    changes = Changes()
    for envelope in envelopes:
        doc = current.get(envelope.product_id)
        verdict = products.admit(doc, envelope)
        if verdict is products.Verdict.SKIP:
            result.skipped += 1
            continue
        if verdict is products.Verdict.GAP:
            result.gaps.append((envelope, doc["version"] if doc else 0))
            continue
        new = products.apply(doc, envelope)
        changes.record(doc, new)
        current[envelope.product_id] = new
        written.append(history.document(envelope))
        result.applied += 1
        result.last_event_time = envelope.time
    return FoldedBatch(before, current, written, changes, result)
