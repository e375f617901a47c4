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


def spawn(args: list[str], config: Path) -> pexpect.spawn:
    """``python -m hub ARGS`` in an 80x24 pseudo-terminal, without colour, its output recorded."""
    env = dict(os.environ, RPS_HUB_CONFIG_DIR=str(config), NO_COLOR="1", TERM="xterm")
    child = pexpect.spawn(
        sys.executable,
        ["-m", "hub", *args],
        cwd=str(ROOT),
        env=env,
        encoding="utf-8",
        timeout=TIMEOUT,
        dimensions=(24, 80),
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
