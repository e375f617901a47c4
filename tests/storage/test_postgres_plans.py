"""The PostgreSQL batch's plan: each saved game is found by its key, whatever the statistics say.

The batch statement is prepared once per connection, and PostgreSQL keeps a generic plan for it
after a few runs. A database the hub has just created has a ``games`` table that was never
analyzed: planned then, the updates joined their rows to the whole table (a sequential scan,
every batch, growing with the table until an ANALYZE came). Here that generic plan is asked for
outright (``plan_cache_mode = force_generic_plan``) over a table of a few hundred games that was
never analyzed, on the connection batches run on.
"""

from __future__ import annotations

import json
from typing import Any

from protocol.game import COMPUTER
from storage import sql
from storage.engine import Save
from storage.postgres import PostgresStorage
from storage.postgres_batch import BATCH, arguments
from tests.postgres import schema_url
from tests.storage.contract import Table

GAMES = 300


def plan_nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    """``node`` and every node under it, of an ``EXPLAIN (FORMAT JSON)`` plan."""
    return [node] + [n for child in node.get("Plans", ()) for n in plan_nodes(child)]


def update(table: Table, *, ended: bool) -> Save:
    """A save of ``table``'s game after a move (as ended: its row says finished)."""
    events = table.play(table.game.players[0], "Rock")
    expected = events[0].seq - 1
    row: dict[str, Any] | tuple[Any, ...]
    if ended:  # the whole row, as a save of a game that ended stores it
        row = {**sql.game_row(table.game, events), "expected": expected}
        row["status"], row["reason"], row["winner"] = "finished", "won", table.game.players[0]
    else:
        row = sql.save_row(table.game, events, create=False, expected=expected)
    rounds = sql.round_rows(table.game, table.game.rounds)
    return Save(False, table.game.id, row, rounds, sql.event_rows(table.game.id, events))


async def test_a_batch_reads_games_by_key_on_a_table_never_analyzed(schema: str) -> None:
    storage = await PostgresStorage.open(schema_url(schema))
    try:
        tables = [
            await Table.start(storage, (f"p{i}", COMPUTER), id=f"g{i:04d}", seed=i)
            for i in range(GAMES)
        ]
        saves = [update(t, ended=False) for t in tables[:3]] + [update(tables[3], ended=True)]
        db = await storage._backend._batch_connection()  # type: ignore[attr-defined]
        await db.execute("SET plan_cache_mode = force_generic_plan")
        try:
            explained = await db.fetchval("EXPLAIN (FORMAT JSON) " + BATCH, *arguments(saves))
        finally:
            await db.execute("RESET plan_cache_mode")
        never_analyzed = await db.fetchval(
            "SELECT last_analyze IS NULL AND last_autoanalyze IS NULL FROM pg_stat_user_tables"
            " WHERE schemaname = $1 AND relname = 'games'",
            schema,
        )
    finally:
        await storage.close()
    assert never_analyzed is True  # the case in question: statistics never gathered
    scans = [
        n
        for n in plan_nodes(json.loads(explained)[0]["Plan"])
        if n.get("Relation Name") == "games" and n["Node Type"] != "ModifyTable"
    ]
    assert scans, "the updates read no games row"
    # By key: an index scan with a condition on the index, or a bitmap heap scan (the pages a
    # bitmap index scan found, its condition rechecked); never a sequential scan.
    keyed = {"Index Scan": "Index Cond", "Index Only Scan": "Index Cond"}
    keyed["Bitmap Heap Scan"] = "Recheck Cond"
    assert [(n["Node Type"], keyed.get(n["Node Type"], "") in n) for n in scans] == [
        (n["Node Type"], True) for n in scans
    ]
