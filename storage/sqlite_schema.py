"""The SQLite backend's tables, as the migrations that make them (``PRAGMA user_version`` counts
the ones applied)."""

from __future__ import annotations

from protocol.game import COMPUTER
from storage import sql

__all__ = ["MIGRATIONS"]

_NOW_MS = "CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)"

# Each migration is a list of statements run in one transaction; append, never edit a shipped one.
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE players (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            name_key TEXT NOT NULL UNIQUE,
            token_hash TEXT UNIQUE,
            created INTEGER NOT NULL
        )""",
        # The computer is a player row so its name is taken and the legacy top scores can show it.
        f"""INSERT INTO players (name, name_key, token_hash, created)
            VALUES ('{COMPUTER}', '{COMPUTER}', NULL, {_NOW_MS})""",
        # Player names are ASCII (docs/protocol.md, Players and tokens), so NOCASE compares them
        # exactly as casefold() does and
        # lets the seat and winner indexes serve lookups that ignore case.
        """CREATE TABLE games (
            id TEXT PRIMARY KEY,
            rules TEXT NOT NULL,
            best_of INTEGER NOT NULL,
            player_a TEXT NOT NULL COLLATE NOCASE,
            player_b TEXT NOT NULL COLLATE NOCASE,
            status TEXT NOT NULL CHECK (status IN ('playing', 'finished')),
            reason TEXT CHECK (
                reason IS NULL
                OR reason IN ('won', 'drawn', 'resigned', 'timeout', 'abandoned')
            ),
            winner TEXT COLLATE NOCASE,
            score_a INTEGER NOT NULL,
            score_b INTEGER NOT NULL,
            round INTEGER NOT NULL,
            deadline INTEGER,
            round_seconds REAL NOT NULL,
            secret_roll TEXT,
            secret_nonce TEXT,
            pending TEXT NOT NULL,
            epoch TEXT NOT NULL,
            started INTEGER NOT NULL,
            finished INTEGER,
            seq INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX games_by_started ON games (started, id)",
        "CREATE INDEX games_by_player_a ON games (player_a, started, id)",
        "CREATE INDEX games_by_player_b ON games (player_b, started, id)",
        "CREATE INDEX games_by_status ON games (status, started, id)",
        "CREATE INDEX games_by_winner ON games (winner, status)",
        """CREATE TABLE rounds (
            game_id TEXT NOT NULL REFERENCES games (id) ON DELETE CASCADE,
            round INTEGER NOT NULL,
            move_a TEXT,
            move_b TEXT,
            winner TEXT COLLATE NOCASE,
            commitment TEXT,
            nonce TEXT,
            PRIMARY KEY (game_id, round)
        ) WITHOUT ROWID""",
        """CREATE TABLE game_events (
            game_id TEXT NOT NULL REFERENCES games (id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            ts INTEGER NOT NULL,
            event TEXT NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (game_id, seq)
        ) WITHOUT ROWID""",
        # Subscribers recover by seq (docs/protocol.md): a duplicate or a gap would lose events.
        """CREATE TRIGGER game_events_follow BEFORE INSERT ON game_events
            WHEN NEW.seq <> 1 + COALESCE(
                (SELECT MAX(seq) FROM game_events WHERE game_id = NEW.game_id), 0)
            BEGIN
                SELECT RAISE(ABORT, 'each game event must take the next seq of its topic');
            END""",
    ],
    [
        # A game left without a move for idle_seconds (0: never) after idle_until ends abandoned.
        "ALTER TABLE games ADD COLUMN idle_seconds REAL NOT NULL DEFAULT 0",
        "ALTER TABLE games ADD COLUMN idle_until INTEGER",
        sql.LEGACY_IDLE_BACKFILL,
    ],
    [
        # Devices: a player holds any number of tokens (each stored as its SHA-256), so a name
        # can be used on another device and one token revoked alone.  ``tokenless`` marks the
        # players the legacy API made (and the computer); the old single token moves over.
        """CREATE TABLE tokens (
            hash TEXT PRIMARY KEY,
            player_id INTEGER NOT NULL REFERENCES players (id) ON DELETE CASCADE,
            created INTEGER NOT NULL
        )""",
        "CREATE INDEX tokens_by_player ON tokens (player_id)",
        "ALTER TABLE players ADD COLUMN tokenless INTEGER NOT NULL DEFAULT 0",
        "UPDATE players SET tokenless = 1 WHERE token_hash IS NULL",
        """INSERT INTO tokens (hash, player_id, created)
            SELECT token_hash, id, created FROM players WHERE token_hash IS NOT NULL""",
        "UPDATE players SET token_hash = NULL",
    ],
    [
        # Ratings (Glicko-2, protocol/ratings.py): each player's, how many rated games made it
        # (a save of a rated game names the count it read, so no update is lost), each rated
        # game's change, and every player's rating after each rated game.
        "ALTER TABLE players ADD COLUMN rating REAL NOT NULL DEFAULT 1500",
        "ALTER TABLE players ADD COLUMN deviation REAL NOT NULL DEFAULT 350",
        "ALTER TABLE players ADD COLUMN volatility REAL NOT NULL DEFAULT 0.06",
        "ALTER TABLE players ADD COLUMN rated INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE games ADD COLUMN rating_change TEXT",
        """CREATE TABLE rating_history (
            player_id INTEGER NOT NULL REFERENCES players (id) ON DELETE CASCADE,
            game_id TEXT NOT NULL REFERENCES games (id) ON DELETE CASCADE,
            ts INTEGER NOT NULL,
            rating REAL NOT NULL,
            deviation REAL NOT NULL,
            volatility REAL NOT NULL,
            PRIMARY KEY (player_id, ts, game_id)
        ) WITHOUT ROWID""",
    ],
    [
        # The computer's level (protocol.reader): every game before levels is "random".
        "ALTER TABLE games ADD COLUMN level TEXT NOT NULL DEFAULT 'random'",
    ],
    [
        # Several nodes as one hub (SPEC section 6): compare-and-set saves need each game's seq
        # right; a player's seat in a live game is a row, taken with the game's insert and freed
        # by the save that ends it, so two nodes cannot seat one player twice; the games due
        # are found by an index that holds only the live ones.
        sql.SEQ_BACKFILL,
        """CREATE TABLE live_seats (
            player TEXT PRIMARY KEY,
            game_id TEXT NOT NULL REFERENCES games (id) ON DELETE CASCADE
        ) WITHOUT ROWID""",
        sql.LIVE_SEATS_BACKFILL,
        f"""CREATE TRIGGER live_seats_take AFTER INSERT ON games WHEN NEW.status = 'playing'
            BEGIN
                INSERT INTO live_seats (player, game_id)
                    SELECT lower(NEW.player_a), NEW.id WHERE lower(NEW.player_a) <> '{COMPUTER}';
                INSERT INTO live_seats (player, game_id)
                    SELECT lower(NEW.player_b), NEW.id WHERE lower(NEW.player_b) <> '{COMPUTER}';
            END""",
        """CREATE TRIGGER live_seats_free AFTER UPDATE OF status ON games
            WHEN OLD.status = 'playing' AND NEW.status <> 'playing'
            BEGIN
                DELETE FROM live_seats
                    WHERE player IN (lower(NEW.player_a), lower(NEW.player_b))
                      AND game_id = NEW.id;
            END""",
        # status leads, though the index holds only the live games: without statistics SQLite
        # would rather read games_by_status (status=?) and sort than a range of due times alone.
        f"CREATE INDEX games_due ON games (status, ({sql.DUE}), id) WHERE status = 'playing'",
    ],
    [
        # Each topic's seqs rising by exactly 1 is kept without a trigger that looked up the
        # topic's last seq for every event row (a seventh of the writer's work per move): a save
        # is a compare-and-set on games.seq (its first event takes the next seq) and the writer
        # refuses events that do not follow one another (storage.writer).
        "DROP TRIGGER game_events_follow",
    ],
    [
        # A move's round and events are rows of the live games, whose ids are random: in tables
        # keyed by (game id, ...) (WITHOUT ROWID) each game's rows fill a page of their own, so
        # a batch of moves dirtied a page (and split one every few moves) per game and table.
        # Rowid tables take every new row at their end, on the same few pages; a unique index
        # of small entries keeps each game's rows in order (and the conflict target of a round
        # stored again).  Half the bytes written per move (``benchmarks/writer.py``).
        """CREATE TABLE rounds_by_rowid (
            game_id TEXT NOT NULL REFERENCES games (id) ON DELETE CASCADE,
            round INTEGER NOT NULL,
            move_a TEXT,
            move_b TEXT,
            winner TEXT COLLATE NOCASE,
            commitment TEXT,
            nonce TEXT
        )""",
        """INSERT INTO rounds_by_rowid
            SELECT game_id, round, move_a, move_b, winner, commitment, nonce FROM rounds
            ORDER BY game_id, round""",
        "DROP TABLE rounds",
        "ALTER TABLE rounds_by_rowid RENAME TO rounds",
        "CREATE UNIQUE INDEX rounds_by_game ON rounds (game_id, round)",
        """CREATE TABLE game_events_by_rowid (
            game_id TEXT NOT NULL REFERENCES games (id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            ts INTEGER NOT NULL,
            event TEXT NOT NULL,
            data TEXT NOT NULL
        )""",
        """INSERT INTO game_events_by_rowid
            SELECT game_id, seq, ts, event, data FROM game_events ORDER BY game_id, seq""",
        "DROP TABLE game_events",
        "ALTER TABLE game_events_by_rowid RENAME TO game_events",
        "CREATE UNIQUE INDEX game_events_by_seq ON game_events (game_id, seq)",
    ],
    [
        # From here on a row of game_events holds the events a change made at one time
        # (storage.sql.event_rows: a move's three in one row, one index entry instead of three),
        # which older versions would misread: the schema's version says so, and they refuse the
        # file.  The table itself is unchanged; its rows of one event each read as before.
        "SELECT 'game_events: a row holds the events of one time'",
    ],
]
