"""The terminal: lines out, lines in, without ever blocking the event loop.

On a terminal (stdin and stdout both TTYs) the input runs in cbreak mode: the client echoes what is
typed itself, under a prompt line at the bottom that it redraws when a message is printed above it
or when the countdown ticks, so events keep scrolling while the player types. The bottom line never
reaches the terminal's last column (the width is read again at each redraw, and a SIGWINCH redraws
at once): a longer prompt is cut, and a long typed line scrolls, so that the terminal never wraps it
and ``\r`` plus erase-line always clears it. Anywhere else (a pipe, a file) lines are read as they
come and prompts are printed as plain lines. Colour only when stdout is a TTY (and ``NO_COLOR`` is
unset).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
import sys
import termios
import threading
import unicodedata
from collections.abc import Callable
from typing import IO, Any

STYLES = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "cyan": "36",
}

OnLine = Callable[[str | None], None]

COLUMNS, LINES = 80, 24  # when the output is not a terminal, or its size cannot be read
ERASE = "\r\x1b[K"
ROOM = 10  # columns of the bottom line kept for typing when the prompt is cut


class Terminal:
    """Output with a live prompt line, and a line reader that feeds ``on_line``."""

    def __init__(self, out: IO[str] | None = None, inp: IO[str] | None = None) -> None:
        self.out = out if out is not None else sys.stdout
        self.inp = inp if inp is not None else sys.stdin
        self.color = _isatty(self.out) and not os.environ.get("NO_COLOR") and _term_ok()
        self.interactive = _isatty(self.out) and _isatty(self.inp)
        self.prompt = ""
        self.buffer = ""
        self.muted = False  # --json: the human text is not printed
        self.on_resize: Callable[[], None] | None = None  # after a SIGWINCH, once redrawn
        self._on_line: OnLine | None = None
        self._saved: list[Any] | None = None
        self._fd: int | None = None
        self._reading = False
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._escape = ""

    # -- output -----------------------------------------------------------------------------

    def size(self) -> tuple[int, int]:
        """The terminal's columns and lines now (80 x 24 when it is not a terminal)."""
        if not self.interactive:
            return COLUMNS, LINES
        try:
            size = os.get_terminal_size(self.out.fileno())
        except (OSError, ValueError, AttributeError):
            return COLUMNS, LINES
        return size.columns or COLUMNS, size.lines or LINES

    @property
    def columns(self) -> int:
        """The terminal's width now."""
        return self.size()[0]

    def line(self) -> str:
        """The bottom line as drawn: the prompt and the end of what is typed, within the width."""
        return fit(self.prompt, self.buffer, self.columns - 1)

    def style(self, text: str, *names: str) -> str:
        """``text`` in the given styles when colour is on."""
        if not self.color or not names:
            return text
        codes = ";".join(STYLES[n] for n in names)
        return f"\x1b[{codes}m{text}\x1b[0m"

    def say(self, line: str = "") -> None:
        """Print a line above the prompt."""
        if self.muted:
            return
        if self.interactive and self._saved is not None:
            self.out.write(ERASE + line + "\n" + self.line())
        else:
            self.out.write(line + "\n")
        self.out.flush()

    def write_raw(self, text: str) -> None:
        """Write text as is (screen redraws, JSON lines)."""
        self.out.write(text)
        self.out.flush()

    def set_prompt(self, prompt: str) -> None:
        """Show ``prompt`` (and what is typed) on the bottom line; plain mode prints it once."""
        if prompt == self.prompt or self.muted:
            return
        self.prompt = prompt
        if self.interactive and self._saved is not None:
            self.redraw()
        elif prompt and not self.interactive:
            self.out.write(prompt.rstrip() + "\n")
            self.out.flush()

    def redraw(self) -> None:
        """Draw the bottom line again (on a terminal, while reading)."""
        if self.interactive and self._saved is not None and not self.muted:
            self.out.write(ERASE + self.line())
            self.out.flush()

    def update_prompt(self, prompt: str) -> None:
        """Change the prompt line in place (a countdown); nothing in plain mode."""
        if self.interactive:
            self.set_prompt(prompt)
        else:
            self.prompt = prompt

    # -- input ------------------------------------------------------------------------------

    def start(self, on_line: OnLine) -> None:
        """Read lines from stdin on the running loop; ``on_line(None)`` at end of input."""
        self._on_line = on_line
        loop = asyncio.get_running_loop()
        try:
            fd = self.inp.fileno()
        except (OSError, ValueError, AttributeError):
            self._thread_reader(loop)
            return
        if self.interactive:
            self._saved = termios.tcgetattr(fd)
            mode = termios.tcgetattr(fd)
            mode[3] &= ~(termios.ICANON | termios.ECHO)
            cc = mode[6]
            assert isinstance(cc, list)
            cc[termios.VMIN] = 1
            cc[termios.VTIME] = 0
            termios.tcsetattr(fd, termios.TCSADRAIN, mode)
        try:
            loop.add_reader(fd, self._readable, fd)
        except (OSError, ValueError):
            # Regular files cannot be polled: read them on a thread instead.
            self._restore()
            self._thread_reader(loop)
            return
        self._fd = fd
        self._reading = True
        if self.interactive:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signal.SIGWINCH, self._resized)
            self.redraw()

    def stop(self) -> None:
        """Stop reading and give the terminal back as it was."""
        if self._reading and self._fd is not None:
            with contextlib.suppress(Exception):
                loop = asyncio.get_running_loop()
                loop.remove_reader(self._fd)
                if self.interactive:
                    loop.remove_signal_handler(signal.SIGWINCH)
        self._reading = False
        if self._saved is not None:
            self.out.write(ERASE)
            self.out.flush()
        self._restore()

    def _restore(self) -> None:
        if self._saved is not None:
            with contextlib.suppress(termios.error, OSError, ValueError):
                termios.tcsetattr(self.inp.fileno(), termios.TCSADRAIN, self._saved)
            self._saved = None

    def _resized(self) -> None:
        if self.on_resize is not None:
            self.on_resize()
        self.redraw()

    def _thread_reader(self, loop: asyncio.AbstractEventLoop) -> None:
        def run() -> None:
            for line in self.inp:
                loop.call_soon_threadsafe(self._emit, line.rstrip("\r\n"))
            loop.call_soon_threadsafe(self._emit, None)

        threading.Thread(target=run, name="stdin", daemon=True).start()

    def _emit(self, line: str | None) -> None:
        if self._on_line is not None:
            self._on_line(line)

    def _readable(self, fd: int) -> None:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            asyncio.get_running_loop().remove_reader(fd)
            self._reading = False
            if self._pending:
                self._emit(self._pending)
                self._pending = ""
            self._emit(None)
            return
        text = self._decoder.decode(chunk)
        if self.interactive:
            self._keys(text)
            return
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._emit(line.rstrip("\r"))

    def _keys(self, text: str) -> None:
        for ch in text:
            if self._escape:
                # Swallow escape sequences (arrow keys and the like): ESC [ ... final byte.
                self._escape += ch
                done = ch not in "[O" if len(self._escape) == 2 else "@" <= ch <= "~"
                if done:
                    self._escape = ""
                continue
            if ch == "\x1b":
                self._escape = ch
            elif ch in "\r\n":
                # What was typed stays above, in full (the terminal may wrap it once).
                line, self.buffer = self.buffer, ""
                self.out.write(ERASE + self.prompt + line + "\n" + self.line())
                self._emit(line)
            elif ch in "\x7f\x08":
                if self.buffer:
                    self.buffer = self.buffer[:-1]
                    self.out.write(ERASE + self.line())
            elif ch == "\x15":
                self.buffer = ""
                self.out.write(ERASE + self.line())
            elif ch == "\x04":
                if not self.buffer:
                    self._emit(None)
            elif ch.isprintable():
                shown = self.line()
                self.buffer += ch
                if width(shown) + width(ch) < self.columns and shown.endswith(self.buffer[:-1]):
                    self.out.write(ch)
                else:
                    self.out.write(ERASE + self.line())
        self.out.flush()


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (ValueError, AttributeError):
        return False


def _term_ok() -> bool:
    return os.environ.get("TERM", "") != "dumb"


def width(text: str) -> int:
    """Columns ``text`` takes on a terminal: wide East Asian characters take two, combining
    marks none."""
    total = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        total += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return total


def fit(prompt: str, typed: str, columns: int) -> str:
    """``prompt + typed`` within ``columns``: the prompt is cut (ending in ``…``) to leave room to
    type, and only the end of a long ``typed`` is shown."""
    if width(prompt) + width(typed) <= columns:
        return prompt + typed
    room = max(0, columns - ROOM)
    if width(prompt) > room:
        prompt = _cut(prompt, room - 1) + "…" if room > 1 else ""
    left = columns - width(prompt)
    tail = ""
    for ch in reversed(typed):
        if width(tail) + width(ch) > left:
            break
        tail = ch + tail
    return prompt + tail


def _cut(text: str, columns: int) -> str:
    out = ""
    for ch in text:
        if width(out) + width(ch) > columns:
            break
        out += ch
    return out
