"""Which event loop ``rps-hub serve`` runs on: uvloop when it is installed, else asyncio's own.

uvloop (libuv under asyncio's interface, written in Cython) does in C what asyncio's default loop
does in Python for every message: reading a socket and handing the bytes to the protocol, writing
a frame, scheduling callbacks and timers.  On uvloop a move costs the hub 4-15% less CPU, it serves
3-15% more moves a second at 10 and 100 players (at 1,000, -3 to +9%: there the process is held
to one core, the GIL, which the SQLite writer's thread shares), and its lobby fan-out costs it no
more than on asyncio (``benchmarks/moves.py`` and ``fanout.py``; the numbers are in
benchmarks/README.md).  Nothing in the hub depends on which loop runs it: the test suite runs on
the loop ``serve`` would choose, and ``--loop asyncio`` is always there (uvloop has no Windows
build, and a loop written in Python is the one a debugger or profiler steps through).
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable

__all__ = ["LOOPS", "loop_factory", "loop_name"]

LOOPS = ("auto", "uvloop", "asyncio")


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """What makes the loop ``name`` (one of ``LOOPS``): ``auto`` is uvloop when it can be
    imported, asyncio's loop otherwise. ``ImportError`` when ``uvloop`` is asked for and missing."""
    if name == "asyncio":
        return asyncio.new_event_loop
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        if name == "uvloop":
            raise
        return asyncio.new_event_loop
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``uvloop`` or ``asyncio``: the kind of ``loop``, for the log."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
