"""Short keys for rolls (``1``..``9``, then ``a``..``z``) and reading a typed roll back."""

from __future__ import annotations

import string
from collections.abc import Sequence

from client.errors import ClientError

KEY_CHARS = string.digits[1:] + string.ascii_lowercase


class RollKeys:
    """The rolls of one rule set with a one-character key each, in the table's order."""

    def __init__(self, rolls: Sequence[str]) -> None:
        if len(rolls) > len(KEY_CHARS):
            raise ValueError(f"at most {len(KEY_CHARS)} rolls get keys, not {len(rolls)}")
        self.rolls = tuple(rolls)
        self.keys = dict(zip(KEY_CHARS, self.rolls, strict=False))

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
        raise ClientError(
            "bad_request",
            f"{typed.strip()!r} is not a roll; type a key ({self.key_range}) or a roll's name",
        )

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
