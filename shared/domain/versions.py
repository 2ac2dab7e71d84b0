"""The version rule every fold of the log keeps: an event is applied only as the next version.

`ce_sequence` numbers a product's events 1, 2, 3 … . A fold (the write side's state, a read
model) that is at version v applies an event with sequence v + 1, skips one at or below v (a
redelivery, already applied) and refuses one beyond v + 1 (an earlier event is missing: applying
it would build on a hole). One rule, written once, so the write side and the read models can
never disagree on what a log means.
"""

from __future__ import annotations

from enum import Enum


class Verdict(Enum):
    APPLY = "apply"
    SKIP = "skip"  # at or below the current version: applied before, a redelivery
    GAP = "gap"  # beyond the next version: an earlier event is missing, refuse to apply over it


def verdict(version: int, sequence: int) -> Verdict:
    """Whether an event with `sequence` is the next one for a fold at `version` (0: nothing yet)."""
    if sequence <= version:
        return Verdict.SKIP
    return Verdict.APPLY if sequence == version + 1 else Verdict.GAP
