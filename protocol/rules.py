"""Rule sets: which roll beats which, loaded from the course's battle-table CSV format.

A table is a header ``Attacker,<roll>,<roll>,...`` and one row per roll whose cells say how the
row's roll fares against the column's roll: ``win``, ``lose`` or ``draw``.  A table is valid when
the diagonal says ``draw`` and every pair of distinct rolls has ``win`` on one side and ``lose`` on
the other; anything else is refused, naming every bad pair.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from importlib import resources

from attrs import field, frozen

from protocol.errors import InvalidRuleTable, UnknownRoll

__all__ = ["BUILTIN", "DEFAULT_RULES", "RuleSet", "builtin_rules", "parse_table"]

DEFAULT_RULES = "rps15"
BUILTIN = {"rps15": "battle-table.csv", "rps3": "rps3.csv", "rpsls": "rpsls.csv"}


@frozen
class RuleSet:
    """A named, validated rule table."""

    name: str
    rolls: tuple[str, ...]
    beats: Mapping[str, frozenset[str]]
    # Each roll by its casefold (the first of a casefold, as a header never repeats one): a
    # move's roll is one lookup, not a casefold of each roll of the table (15 in rps15).
    spellings: Mapping[str, str] = field(init=False, eq=False, repr=False)

    @spellings.default
    def _spellings(self) -> Mapping[str, str]:
        out: dict[str, str] = {}
        for roll in self.rolls:
            out.setdefault(roll.casefold(), roll)
        return out

    def canonical(self, roll: str) -> str:
        """Return the table's spelling of ``roll``, ignoring case and surrounding spaces."""
        known = self.spellings.get(roll.strip().casefold())
        if known is None:
            raise UnknownRoll(
                f"roll {roll!r} is not in {self.name}; try one of {', '.join(self.rolls)}"
            )
        return known

    def outcome(self, a: str, b: str) -> int:
        """1 when roll ``a`` beats ``b``, -1 when it loses, 0 on a draw (canonical rolls)."""
        if a == b:
            return 0
        return 1 if b in self.beats[a] else -1

    def beaten_by(self, roll: str) -> list[str]:
        """The rolls that ``roll`` beats, in the table's header order."""
        return [r for r in self.rolls if r in self.beats[roll]]

    def to_json(self) -> dict[str, object]:
        """The wire form used by ``GET /api/rules``."""
        return {"rolls": list(self.rolls), "beats": {r: self.beaten_by(r) for r in self.rolls}}


def parse_table(text: str, name: str) -> RuleSet:
    """Parse and validate a battle table; raise ``InvalidRuleTable`` naming every bad pair."""
    rows = [row for row in csv.reader(io.StringIO(text.replace("\r\n", "\n").replace("\r", "\n")))]
    rows = [[cell.strip() for cell in row] for row in rows if any(cell.strip() for cell in row)]
    if not rows or len(rows[0]) < 2:
        raise InvalidRuleTable("the table has no header row of rolls", [])
    rolls = tuple(rows[0][1:])
    problems: list[str] = []
    seen: set[str] = set()
    for roll in rolls:
        if not roll:
            problems.append("the header has an empty roll name")
        elif roll.casefold() in seen:
            problems.append(f"roll {roll!r} appears twice in the header")
        seen.add(roll.casefold())
    cells: dict[tuple[str, str], str] = {}
    row_names: list[str] = []
    for row in rows[1:]:
        attacker, values = row[0], row[1:]
        row_names.append(attacker)
        if len(values) != len(rolls):
            problems.append(f"row {attacker!r} has {len(values)} cells, expected {len(rolls)}")
        for defender, value in zip(rolls, values, strict=False):
            cells[(attacker, defender)] = value.casefold()
    if sorted(row_names, key=str.casefold) != sorted(rolls, key=str.casefold):
        problems.append("the row names do not match the header's rolls")
    if problems:
        raise InvalidRuleTable("; ".join(problems), [])
    bad_pairs = _bad_pairs(rolls, cells)
    if bad_pairs:
        raise InvalidRuleTable(
            f"{len(bad_pairs)} contradictory pair(s): {', '.join(bad_pairs)}", bad_pairs
        )
    beats = {a: frozenset(b for b in rolls if cells[(a, b)] == "win") for a in rolls}
    return RuleSet(name=name, rolls=rolls, beats=beats)


def _bad_pairs(rolls: tuple[str, ...], cells: Mapping[tuple[str, str], str]) -> list[str]:
    bad: list[str] = []
    for i, a in enumerate(rolls):
        if cells.get((a, a)) != "draw":
            bad.append(f"{a} vs {a}")
        for b in rolls[i + 1 :]:
            pair = {cells.get((a, b)), cells.get((b, a))}
            if pair != {"win", "lose"}:
                bad.append(f"{a} vs {b}")
    return bad


def _load_builtin(names: Iterable[str]) -> dict[str, RuleSet]:
    data = resources.files("protocol") / "data"
    return {name: parse_table((data / BUILTIN[name]).read_text("utf-8"), name) for name in names}


_CACHE: dict[str, RuleSet] = {}


def builtin_rules() -> dict[str, RuleSet]:
    """The shipped rule sets by name: ``rps15`` (default), ``rps3``, ``rpsls``."""
    if not _CACHE:
        _CACHE.update(_load_builtin(BUILTIN))
    return dict(_CACHE)
