"""Which command instance owns which partition: a balanced, sticky assignment. Pure.

The group's leader computes it at every rebalance from what each member reported when it
joined: its address and the partitions it owned until now (with the generation of that
ownership). Every member keeps as much of what it owned as its fair share allows, so adding or
removing one instance moves only the partitions that must move; a partition claimed by two
members (one of them a paused zombie that has not noticed it was replaced) goes to the one whose
claim is more recent. The result goes to every member together with the whole partition ->
address map, which is how an instance finds the owner of a command it must forward (as Kafka
Streams passes `application.server` in its assignment).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Member:
    url: str  # where the other instances reach it
    owned: frozenset[int] = field(default_factory=frozenset)  # partitions it owned until now
    generation: int = -1  # the group generation in which it owned them


def assign(partitions: list[int], members: dict[str, Member]) -> dict[str, set[int]]:
    """Each member's partitions: every partition exactly once, counts differing by at most one."""
    if not members:
        return {}
    order = sorted(members)
    base, extra = divmod(len(partitions), len(order))
    claims: dict[int, str] = {}
    for member_id in sorted(order, key=lambda m: members[m].generation):
        for partition in members[member_id].owned:
            if partition in partitions:
                claims[partition] = member_id  # a later generation's claim wins
    kept: dict[str, list[int]] = {member_id: [] for member_id in order}
    for partition, member_id in sorted(claims.items()):
        kept[member_id].append(partition)
    # The members that keep the most get the quotas of base + 1 first: fewer partitions move.
    by_claims = sorted(order, key=lambda m: (-len(kept[m]), m))
    quota = {m: base + (1 if i < extra else 0) for i, m in enumerate(by_claims)}
    result: dict[str, set[int]] = {m: set(kept[m][: quota[m]]) for m in order}
    free = sorted(set(partitions) - set().union(*result.values()))
    for member_id in order:
        while len(result[member_id]) < quota[member_id]:
            result[member_id].add(free.pop(0))
    return result


def owners(assignment: dict[str, set[int]], members: dict[str, Member]) -> dict[int, str]:
    """Partition -> the address of the member that owns it."""
    return {p: members[m].url for m, parts in assignment.items() for p in parts}
