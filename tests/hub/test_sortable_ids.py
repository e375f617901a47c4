"""Ids that sort by the time they were made (``hub.entropy.sortable_id``, games' ids)."""

from __future__ import annotations

import os
import random
import string
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.entropy import SORTED_ALPHABET, sortable_id

LIMIT = 2**42  # milliseconds: the year 2109
URL_SAFE = set(string.ascii_letters + string.digits + "-_")


def ms_of(made: str) -> int:
    """The milliseconds an id's first 7 characters say, read in ``SORTED_ALPHABET``."""
    value = 0
    for ch in made[:7]:
        value = value * 64 + SORTED_ALPHABET.index(ch)
    return value


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def test_the_alphabet_is_the_url_safe_characters_in_ascii_order() -> None:
    assert "".join(sorted(URL_SAFE)) == SORTED_ALPHABET
    assert len(set(SORTED_ALPHABET)) == 64


def test_an_id_is_16_url_safe_characters_whose_first_7_are_its_millisecond() -> None:
    before = now_ms()
    made = sortable_id()
    after = now_ms()
    assert len(made) == 16
    assert set(made) <= URL_SAFE
    assert before <= ms_of(made) <= after
    assert ms_of(sortable_id(1_800_000_000_000)) == 1_800_000_000_000
    assert sortable_id(0)[:7] == "-------" and sortable_id(LIMIT - 1)[:7] == "zzzzzzz"


@given(st.integers(0, LIMIT - 1), st.integers(0, LIMIT - 1))
def test_string_order_is_time_order(a: int, b: int) -> None:
    first, second = sortable_id(a), sortable_id(b)
    assert (ms_of(first), ms_of(second)) == (a, b)
    assert (first[:7] < second[:7]) == (a < b)
    assert (first[:7] == second[:7]) == (a == b)
    if a < b:  # whatever the random characters
        assert first < second
        assert first.encode() < second.encode()


def test_an_id_made_in_a_later_millisecond_sorts_after() -> None:
    first = sortable_id()
    deadline = time.monotonic() + 1
    while now_ms() <= ms_of(first) and time.monotonic() < deadline:
        time.sleep(0.0002)
    second = sortable_id()
    assert ms_of(second) > ms_of(first)
    assert first < second
    assert sorted([second, first]) == [first, second]


def test_ids_of_one_millisecond_do_not_repeat_even_from_two_processes() -> None:
    ms = now_ms()
    mine = [sortable_id(ms) for _ in range(20_000)]
    assert len(set(mine)) == len(mine)
    assert {m[:7] for m in mine} == {mine[0][:7]}
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # another node making ids in the same millisecond (after the parent's, forked)
        os.write(write, "".join(sortable_id(ms) for _ in range(2_000)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read, "rb") as pipe:
        theirs = pipe.read().decode()
    child = {theirs[i : i + 16] for i in range(0, len(theirs), 16)}
    assert len(child) == 2_000
    assert not child & set(mine)
    assert not child & {sortable_id(ms) for _ in range(2_000)}


def test_a_given_source_makes_the_same_ids_and_a_time_outside_42_bits_is_refused() -> None:
    made = [sortable_id(1_800_000_000_000 + i, random.Random(7)) for i in range(3)]
    assert made == [sortable_id(1_800_000_000_000 + i, random.Random(7)) for i in range(3)]
    assert made == sorted(made)
    for ms in (-1, LIMIT):
        with pytest.raises(ValueError):
            sortable_id(ms)
