"""The group's assignment of partitions to command instances (assignment.py)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.command.assignment import Member, assign, owners

P6 = list(range(6))


def members(**owned: list[int]) -> dict[str, Member]:
    return {m: Member(f"http://{m}", frozenset(parts), 0) for m, parts in owned.items()}


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 12),
    st.dictionaries(
        st.sampled_from("abcdefg"),
        st.tuples(st.frozensets(st.integers(0, 14)), st.integers(-1, 5)),
        min_size=1,
    ),
)
def test_every_partition_has_exactly_one_owner_and_shares_differ_by_at_most_one(
    count: int, claims: dict[str, tuple[frozenset[int], int]]
) -> None:
    partitions = list(range(count))
    known = {m: Member(m, owned, generation) for m, (owned, generation) in claims.items()}
    result = assign(partitions, known)
    assert set(result) == set(known)
    owned = [p for parts in result.values() for p in parts]
    assert sorted(owned) == partitions
    sizes = [len(parts) for parts in result.values()]
    assert max(sizes) - min(sizes) <= 1


def test_a_new_member_takes_only_what_must_move() -> None:
    before = members(a=[0, 1, 2], b=[3, 4, 5])
    after = assign(P6, {**before, "c": Member("http://c")})
    assert after["a"] < {0, 1, 2} and after["b"] < {3, 4, 5}  # each keeps two of its three
    assert len(after["c"]) == 2


def test_a_member_that_left_has_its_partitions_shared_out_the_rest_stays() -> None:
    after = assign(P6, members(a=[0, 1], b=[2, 3]))  # c, which owned 4 and 5, is gone
    assert after["a"] >= {0, 1} and after["b"] >= {2, 3}
    assert after["a"] | after["b"] == set(P6)


def test_of_two_claims_to_one_partition_the_more_recent_wins() -> None:
    zombie = Member("http://zombie", frozenset({0, 1, 2}), generation=3)
    successor = Member("http://successor", frozenset({0, 1, 2, 3, 4, 5}), generation=7)
    result = assign(P6, {"zombie": zombie, "successor": successor})
    assert result["successor"] >= {0, 1, 2} or len(result["successor"]) == 3
    assert result["zombie"].isdisjoint({0, 1, 2})  # the stale claim loses every partition


def test_the_owners_map_names_each_partitions_address() -> None:
    known = members(a=[0, 1, 2], b=[3, 4, 5])
    assert owners(assign(P6, known), known) == {
        0: "http://a",
        1: "http://a",
        2: "http://a",
        3: "http://b",
        4: "http://b",
        5: "http://b",
    }
