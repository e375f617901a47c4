"""Driving the terminal client as a person would: in a pseudo-terminal, with pexpect."""

from __future__ import annotations

import io
import os
import signal
import sys
from pathlib import Path

import pexpect

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 20
GAME_OVER = r"won the game|The game is drawn|The game ended without a winner"
AFTER_GAME = r"r: rematch, q: quit: "


def spawn(args: list[str], config: Path, columns: int = 80) -> pexpect.spawn:
    """``python -m hub ARGS`` in a pseudo-terminal of 24 lines (80 columns unless told), without
    colour, its output recorded."""
    env = dict(os.environ, RPS_HUB_CONFIG_DIR=str(config), NO_COLOR="1", TERM="xterm")
    child = pexpect.spawn(
        sys.executable,
        ["-m", "hub", *args],
        cwd=str(ROOT),
        env=env,
        encoding="utf-8",
        timeout=TIMEOUT,
        dimensions=(24, columns),
    )
    child.logfile_read = io.StringIO()
    return child


def transcript(child: pexpect.spawn) -> str:
    """Everything the child printed so far."""
    log = child.logfile_read
    assert isinstance(log, io.StringIO)
    return log.getvalue()


def finish(child: pexpect.spawn) -> int:
    """Wait for the child to exit; its exit status."""
    child.expect(pexpect.EOF)
    child.close()
    status = child.exitstatus
    assert isinstance(status, int), child.signalstatus
    return status


def quit_after_game(child: pexpect.spawn) -> int:
    """Wait for the prompt that follows a game, leave with ``q``; the exit status."""
    child.expect(AFTER_GAME)
    child.sendline("q")
    return finish(child)


def stop(child: pexpect.spawn) -> None:
    """End a child that may still run."""
    if child.closed:
        return
    if child.isalive():
        child.kill(signal.SIGTERM)
    child.expect(pexpect.EOF)
    child.close(force=True)


def move_when_asked(child: pexpect.spawn, round: int, typed: str) -> None:
    """Wait for the prompt of ``round``, then type ``typed``."""
    child.expect(rf"Round {round} · [^\r\n]*your roll")
    child.sendline(typed)


def play_to_the_end(child: pexpect.spawn, typed: str = "rock") -> int:
    """Type ``typed`` at each round's prompt until the game is over; the number of rounds."""
    played = 0
    while True:
        index = child.expect([r"Round (\d+) · [^\r\n]*your roll", GAME_OVER])
        if index == 1:
            return played
        if int(child.match.group(1)) > played:
            played += 1
            child.sendline(typed)


def bottom_lines(text: str) -> list[str]:
    """What each redraw in ``text`` left on the bottom line (the prompt and what is typed)."""
    return [piece.split("\n")[-1].split("\r")[0] for piece in text.split("\r\x1b[K")[1:]]


class HubProcess:
    """``python -m hub serve`` on a free port, with its database in a temporary directory."""

    def __init__(self, directory: Path) -> None:
        self.db = directory / "hub.db"
        self.port = 0
        self.child: pexpect.spawn | None = None

    @property
    def url(self) -> str:
        """The hub's address."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the hub (on the same port as before, after a stop) and wait until it serves."""
        self.child = pexpect.spawn(
            sys.executable,
            [
                "-m",
                "hub",
                "serve",
                "--port",
                str(self.port),
                "--db",
                str(self.db),
                "--round-deadline",
                "120",
                "--grace",
                "2",
                "--log-level",
                "WARNING",
            ],
            cwd=str(ROOT),
            encoding="utf-8",
            timeout=TIMEOUT,
        )
        self.child.expect(r"serving on http://127\.0\.0\.1:(\d+)/")
        self.port = int(self.child.match.group(1))

    def stop(self) -> None:
        """Stop the hub the way an operator does (SIGTERM) and wait for it to exit."""
        if self.child is not None:
            stop(self.child)
            self.child = None
