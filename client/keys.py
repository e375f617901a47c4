"""Short keys for rolls (``1``..``9``, then ``a``..``z``), reading a typed roll back, and the rules
told to the player (what each roll beats)."""

from __future__ import annotations

import difflib
import string
import textwrap
from collections.abc import Mapping, Sequence

from client.errors import ClientError

KEY_CHARS = string.digits[1:] + string.ascii_lowercase


class RollKeys:
    """The rolls of one rule set with a one-character key each, in the table's order.

    ``beats`` is the rule set's table as ``GET /api/rules`` gives it: each roll's name to the rolls
    it beats.
    """

    def __init__(
        self, rolls: Sequence[str], beats: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        if len(rolls) > len(KEY_CHARS):
            raise ValueError(f"at most {len(KEY_CHARS)} rolls get keys, not {len(rolls)}")
        self.rolls = tuple(rolls)
        self.keys = dict(zip(KEY_CHARS, self.rolls, strict=False))
        self.beats = {roll: tuple(beaten) for roll, beaten in (beats or {}).items()}

    @property
    def key_range(self) -> str:
        """The keys in use, briefly: ``1-9, a-f``."""
        keys = list(self.keys)
        digits = [k for k in keys if k.isdigit()]
        letters = [k for k in keys if k.isalpha()]
        parts = [f"{g[0]}-{g[-1]}" if len(g) > 1 else g[0] for g in (digits, letters) if g]
        return ", ".join(parts)

    def resolve(self, typed: str) -> str:
        """The roll meant by ``typed``: a key, a name in any case, or a unique prefix of a name."""
        text = typed.strip().casefold()
        if not text:
            raise ClientError("bad_request", "type a roll's key or name")
        if text in self.keys:
            return self.keys[text]
        for roll in self.rolls:
            if roll.casefold() == text:
                return roll
        matches = [roll for roll in self.rolls if roll.casefold().startswith(text)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise ClientError(
                "bad_request", f"{typed.strip()!r} could be {', '.join(matches)}; type more letters"
            )
        close = self.close_to(text)
        if close:
            raise ClientError(
                "bad_request", f"{typed.strip()!r} is not a roll; did you mean {_either(close)}?"
            )
        raise ClientError(
            "bad_request",
            f"{typed.strip()!r} is not a roll;"
            f" type a key ({self.key_range}), a roll's name, or help",
        )

    def close_to(self, typed: str) -> list[str]:
        """The rolls whose names look like ``typed`` (a typo), closest first, ignoring case."""
        names = {roll.casefold(): roll for roll in self.rolls}
        found = difflib.get_close_matches(typed.strip().casefold(), names, n=3, cutoff=0.6)
        return [names[name] for name in found]

    def rules(self, width: int = 80) -> list[str]:
        """What each roll beats, one roll (with its key) a paragraph, within ``width`` columns."""
        if not self.beats:
            return [f"{key} {roll}" for key, roll in self.keys.items()]
        name = max(len(roll) for roll in self.rolls)
        lines: list[str] = []
        for key, roll in self.keys.items():
            head = f"{key} {roll:<{name}} "
            text = f"{head}beats {', '.join(self.beats.get(roll, ())) or 'nothing'}"
            lines += textwrap.wrap(
                text, max(width - 1, len(head) + 12), subsequent_indent=" " * len(head)
            )
        return lines

    def menu(self, width: int = 80) -> list[str]:
        """The rolls with their keys laid out in columns no wider than ``width``."""
        cells = [f"{key} {roll}" for key, roll in self.keys.items()]
        cell = max(len(c) for c in cells) + 3
        columns = max(1, min(len(cells), width // cell))
        rows = -(-len(cells) // columns)
        lines = []
        for r in range(rows):
            row = [cells[i] for i in range(r, len(cells), rows)]
            lines.append("".join(c.ljust(cell) for c in row).rstrip())
        return lines


def _either(rolls: Sequence[str]) -> str:
    """``Rock``, ``Rock or Gun``, ``Rock, Gun or Air``."""
    return rolls[0] if len(rolls) == 1 else f"{', '.join(rolls[:-1])} or {rolls[-1]}"
