"""The hub's secret randomness: the OS's CSPRNG (``os.urandom``), read a block at a time.

``secrets.SystemRandom`` makes one ``getrandom`` system call per draw, and a move draws several
(the computer's next roll and the nonce of its commitment): on the move path those calls were a
tenth of the hub's CPU.  This source reads ``BLOCK`` bytes at once and hands them out, each byte
once, so it is exactly as unpredictable as ``SystemRandom``; like it, it cannot be seeded and
has no state to save or restore.

``token_urlsafe`` makes random tokens from it, ``sortable_id`` ids that sort by the time they
were made (a game's).
"""

from __future__ import annotations

import base64
import os
import random
import time
from typing import Any, NoReturn

BLOCK = 4096  # bytes read from the OS at a time

# The 64 URL-safe characters in ASCII order: a character's place here is its value, so strings of
# them compare as their values do (``sortable_id``).
SORTED_ALPHABET = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
TIME_BITS = 42  # milliseconds since the Unix epoch: 7 characters, good until the year 2109
RANDOM_BITS = 54  # 9 characters
SORTABLE_LENGTH = (TIME_BITS + RANDOM_BITS) // 6  # 16
# base64's URL-safe alphabet, in the order of its values, to the same values in ASCII order.
_TO_SORTED = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", SORTED_ALPHABET.encode()
)


class BufferedSystemRandom(random.Random):
    """``random.Random``'s methods over OS randomness read in blocks (``choice``, ``random``,
    ``getrandbits``, ... all draw from it)."""

    def __init__(self) -> None:
        self._block = b""
        self._at = 0
        super().__init__()
        # A child process starts with a block of its own, never its parent's bytes again.
        os.register_at_fork(after_in_child=self._discard)

    def _discard(self) -> None:
        self._block, self._at = b"", 0

    def seed(self, a: Any = None, version: int = 2) -> None:
        """Ignored, as by ``SystemRandom``: the OS's randomness cannot be steered."""

    def getstate(self) -> NoReturn:
        """Not available: there is no state to save."""
        raise NotImplementedError("BufferedSystemRandom has no state")

    def setstate(self, state: Any) -> NoReturn:
        """Not available: there is no state to restore."""
        raise NotImplementedError("BufferedSystemRandom has no state")

    def random(self) -> float:
        """A float in [0.0, 1.0) with 53 random bits."""
        return self.getrandbits(53) * 2.0**-53

    def getrandbits(self, k: int) -> int:
        """A non-negative integer of ``k`` random bits."""
        if k < 0:
            raise ValueError("number of bits must be non-negative")
        n = (k + 7) // 8
        if self._at + n > len(self._block):
            self._block = os.urandom(max(BLOCK, n))
            self._at = 0
        raw = self._block[self._at : self._at + n]
        self._at += n
        return int.from_bytes(raw, "big") >> (n * 8 - k)

    def randbytes(self, n: int) -> bytes:
        """``n`` random bytes."""
        if self._at + n > len(self._block):
            self._block = os.urandom(max(BLOCK, n))
            self._at = 0
        raw = self._block[self._at : self._at + n]
        self._at += n
        return raw


_TOKENS = BufferedSystemRandom()


def token_urlsafe(nbytes: int) -> str:
    """``secrets.token_urlsafe(nbytes)`` (the same alphabet and length) from a buffered source:
    a game's id and epoch without a system call each (which also lets the writer's thread take
    the GIL, the event loop waiting for it back)."""
    return base64.urlsafe_b64encode(_TOKENS.randbytes(nbytes)).rstrip(b"=").decode("ascii")


def sortable_id(ms: int | None = None, rng: random.Random | None = None) -> str:
    """An opaque URL-safe id that sorts, as a string, by the time it was made: 16 characters of
    ``SORTED_ALPHABET``, the first 7 the Unix milliseconds ``ms`` (now when None), the other 9
    random bits (54; from this module's buffered OS randomness unless ``rng`` is given): ids
    made in the same millisecond, by one process or several, collide with a chance of about
    n**2 / 2**55 for n of them.  Ids made in order land next to each other in an index (a
    database's B-tree pages) instead of all over it; an id tells when it was made."""
    if ms is None:
        ms = time.time_ns() // 1_000_000
    if not 0 <= ms < 1 << TIME_BITS:
        raise ValueError(f"{ms} is not a time in milliseconds from 1970 to 2109")
    bits = (ms << RANDOM_BITS) | (_TOKENS if rng is None else rng).getrandbits(RANDOM_BITS)
    raw = bits.to_bytes((TIME_BITS + RANDOM_BITS) // 8, "big")
    return base64.urlsafe_b64encode(raw).translate(_TO_SORTED).decode("ascii")
