"""The fair queue: compatible pools only, within the longer waiter's gap, longest waiter first,
nearest rating first, and the lobby's queue summary."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from protocol.pairing import GAP_EVERY, Pool, Waiting, changes, due, pairs, summary

T0 = 1_000_000
NOW = T0 + 120_000


def waiting(
    player: str, rating: int, since: int = T0, rules: str = "rps15", best_of: int = 5
) -> Waiting:
    """A queue entry, by default for rps15, best of 5, waiting since ``T0``."""
    return Waiting(player=player, rating=rating, rules=rules, best_of=best_of, since=since)


@st.composite
def queues(draw: st.DrawFn) -> list[Waiting]:
    """A queue of distinct players over a few pools, waiting up to two minutes at ``NOW``."""
    names = draw(st.lists(st.text("abcdefgh", min_size=1, max_size=3), unique=True, max_size=16))
    return [
        Waiting(
            player=name,
            rating=draw(st.integers(1000, 2000)),
            rules=draw(st.sampled_from(["rps15", "rps3"])),
            best_of=draw(st.sampled_from([1, 5])),
            since=draw(st.integers(T0, NOW)),
        )
        for name in names
    ]


def order(w: Waiting) -> tuple[int, str, str]:
    """The order in which waiters choose: longest waiting first, then name ignoring case."""
    return (w.since, w.player.casefold(), w.player)


# -- the gap ---------------------------------------------------------------------------------


def test_the_gap_starts_at_100_and_widens_by_50_every_full_5_seconds() -> None:
    w = waiting("ann", 1500)
    assert [w.gap(T0 + ms) for ms in (0, 4_999, 5_000, 9_999, 10_000, 60_000)] == [
        100,
        100,
        150,
        150,
        200,
        700,
    ]
    assert w.gap(T0 - 1_000) == 100


def test_a_newcomer_is_paired_with_the_nearest_waiting_player_within_the_gap() -> None:
    queue = [waiting("ann", 1400), waiting("bob", 1560), waiting("cy", 1530, since=T0 + 1)]
    assert pairs(queue, T0 + 1) == [(queue[1], queue[2])]


def test_nobody_is_paired_outside_the_gap_until_it_widens() -> None:
    queue = [waiting("ann", 1500), waiting("bob", 1800, since=T0 + 19_000)]
    assert pairs(queue, T0 + 19_999) == []
    assert due(queue, T0 + 19_000) == T0 + 20_000
    assert pairs(queue, T0 + 20_000) == [(queue[0], queue[1])]


def test_the_longest_waiter_is_served_first_even_when_newcomers_arrive_close_together() -> None:
    # Pairing the nearest two first would pair bob and cy, and ann could wait for ever.
    outlier = waiting("ann", 2100)  # 60 s later its gap is 700
    bob, cy = waiting("bob", 1501, since=T0 + 60_000), waiting("cy", 1500, since=T0 + 60_000)
    assert pairs([outlier, bob, cy], T0 + 60_000) == [(outlier, bob)]


def test_incompatible_pools_are_never_paired() -> None:
    queue = [
        waiting("ann", 1500),
        waiting("bob", 1500, rules="rps3"),
        waiting("cy", 1500, best_of=3),
    ]
    assert pairs(queue, NOW) == []
    assert due(queue, NOW) is None


# -- properties ------------------------------------------------------------------------------


@given(queue=queues())
def test_pairs_are_compatible_within_the_longer_waiters_gap_and_each_entry_at_most_once(
    queue: list[Waiting],
) -> None:
    made = pairs(queue, NOW)
    seen = [w for pair in made for w in pair]
    assert len(seen) == len(set(seen))
    assert set(seen) <= set(queue)
    for first, second in made:
        assert first.pool == second.pool
        assert order(first) <= order(second)
        assert abs(first.rating - second.rating) <= first.gap(NOW)


@given(queue=queues())
def test_no_two_entries_left_could_be_paired(queue: list[Waiting]) -> None:
    paired = {w for pair in pairs(queue, NOW) for w in pair}
    left = [w for w in queue if w not in paired]
    assert not any(a.admits(b, NOW) for a in left for b in left)


@given(queue=queues())
def test_each_waiter_in_turn_takes_the_nearest_partner_not_taken_before_it(
    queue: list[Waiting],
) -> None:
    made = pairs(queue, NOW)
    taken_by = {w: order(first) for first, second in made for w in (first, second)}
    for first, second in made:
        nearest = abs(first.rating - second.rating)
        for other in queue:
            if other in (first, second) or not first.admits(other, NOW):
                continue
            if abs(first.rating - other.rating) < nearest:
                assert other in taken_by
                assert taken_by[other] < order(first)


@given(
    a=st.integers(1000, 2000),
    b=st.integers(1000, 2000),
    since_a=st.integers(T0, NOW),
    since_b=st.integers(T0, NOW),
)
def test_a_lone_compatible_pair_is_paired_exactly_when_the_gap_has_widened_enough(
    a: int, b: int, since_a: int, since_b: int
) -> None:
    queue = [waiting("ann", a, since=since_a), waiting("bob", b, since=since_b)]
    start = max(since_a, since_b)
    when = due(queue, start)
    assert when is not None
    longer = min(since_a, since_b)
    assert when == max(start, longer + GAP_EVERY * max(0, -(-(abs(a - b) - 100) // 50)))
    assert len(pairs(queue, when)) == 1
    if when > start:
        assert pairs(queue, when - 1) == []


@given(queue=queues())
def test_due_is_never_before_now_and_is_now_when_someone_can_be_paired(
    queue: list[Waiting],
) -> None:
    when = due(queue, NOW)
    if pairs(queue, NOW):
        assert when == NOW
    elif when is not None:
        assert when > NOW
        assert pairs(queue, when)


# -- the lobby's queue -----------------------------------------------------------------------


def test_the_summary_counts_each_pool_sorted_by_rules_then_best_of() -> None:
    queue = [
        waiting("ann", 1500, rules="rps3", best_of=5),
        waiting("bob", 1500, rules="rps15", best_of=5),
        waiting("cy", 1500, rules="rps3", best_of=1),
        waiting("dee", 1500, rules="rps3", best_of=5),
    ]
    assert [p.to_json() for p in summary(queue)] == [
        {"rules": "rps15", "best_of": 5, "waiting": 1},
        {"rules": "rps3", "best_of": 1, "waiting": 1},
        {"rules": "rps3", "best_of": 5, "waiting": 2},
    ]
    assert summary([]) == []


def test_changes_name_each_pool_whose_size_changed_with_0_for_an_emptied_one() -> None:
    ann, bob = waiting("ann", 1500), waiting("bob", 1500, rules="rps3")
    cy = waiting("cy", 1500, rules="rps3")
    assert changes([ann, bob], [bob, cy]) == [Pool("rps15", 5, 0), Pool("rps3", 5, 2)]
    assert changes([ann, bob], [bob, ann]) == []


@given(before=queues(), after=queues())
def test_applying_the_changes_to_the_old_summary_gives_the_new_one(
    before: list[Waiting], after: list[Waiting]
) -> None:
    counts = {(p.rules, p.best_of): p.waiting for p in summary(before)}
    counts.update({(p.rules, p.best_of): p.waiting for p in changes(before, after)})
    assert [Pool(r, b, n) for (r, b), n in sorted(counts.items()) if n] == summary(after)
