"""The hub's source of secret randomness: the OS's, drawn in blocks instead of a call per draw."""

from __future__ import annotations

import collections
import os
import secrets
import string

import pytest

from hub.entropy import BLOCK, BufferedSystemRandom, token_urlsafe


def test_bits_stay_within_their_width_for_every_width() -> None:
    rng = BufferedSystemRandom()
    for k in range(1, 300):
        values = [rng.getrandbits(k) for _ in range(20)]
        assert all(0 <= v < 2**k for v in values)
    # The top bit of a width is used too (no bits lost to rounding up to bytes).
    assert max(rng.getrandbits(9) for _ in range(2000)) >= 2**8


def test_zero_bits_is_zero_and_negative_bits_are_refused() -> None:
    rng = BufferedSystemRandom()
    assert rng.getrandbits(0) == 0
    with pytest.raises(ValueError):
        rng.getrandbits(-1)


def test_draws_go_on_across_refills_and_two_sources_differ() -> None:
    a, b = BufferedSystemRandom(), BufferedSystemRandom()
    draws = [a.getrandbits(128) for _ in range(3 * BLOCK // 16 + 5)]  # several blocks
    assert len(set(draws)) == len(draws)
    assert [b.getrandbits(128) for _ in range(8)] != draws[:8]


def test_choices_are_uniform_within_a_wide_margin() -> None:
    rng = BufferedSystemRandom()
    counts = collections.Counter(rng.choice("RPS") for _ in range(60_000))
    # 20,000 each; one standard deviation is about 115, so 1,000 off is far beyond chance.
    assert all(abs(n - 20_000) < 1_000 for n in counts.values())
    assert (
        0.0 <= min(rng.random() for _ in range(1000)) < max(rng.random() for _ in range(1000)) < 1.0
    )


def test_it_cannot_be_seeded_into_a_known_stream() -> None:
    rng = BufferedSystemRandom()
    rng.seed(1)  # ignored, like SystemRandom's
    other = BufferedSystemRandom()
    other.seed(1)
    assert [rng.getrandbits(64) for _ in range(4)] != [other.getrandbits(64) for _ in range(4)]
    with pytest.raises(NotImplementedError):
        rng.getstate()


def test_tokens_have_secrets_alphabet_and_length_and_do_not_repeat() -> None:
    tokens = [token_urlsafe(9) for _ in range(3 * BLOCK // 9 + 5)]  # several blocks
    assert len(set(tokens)) == len(tokens)
    for n in (8, 9, 12):
        made = token_urlsafe(n)
        assert len(made) == len(secrets.token_urlsafe(n))
        assert set(made) <= set(string.ascii_letters + string.digits + "-_")
    rng = BufferedSystemRandom()
    assert [len(rng.randbytes(n)) for n in (0, 1, 9, BLOCK + 1)] == [0, 1, 9, BLOCK + 1]


def test_a_forked_child_does_not_draw_its_parents_buffered_bytes() -> None:
    rng = BufferedSystemRandom()
    rng.randbytes(16)  # a block is buffered
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: what it draws next, to the parent
        os.write(write, rng.randbytes(32))
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 32)
    os.close(read)
    assert child != rng.randbytes(32)
