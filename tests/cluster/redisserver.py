"""A private ``redis-server`` for tests that kill, pause or restart Redis.

``RedisServer()`` picks a free port; ``start()`` runs ``redis-server --port P --save ''
--appendonly no --bind 127.0.0.1`` there and returns once it answers PING, so nothing is ever
written to disk and a restart loses every key (as a Redis without persistence does).  ``kill()``
is SIGKILL, ``pause()``/``resume()`` SIGSTOP/SIGCONT (a Redis that no longer answers, the socket
still open), ``restart()`` kills and starts again on the same port.  ``with RedisServer() as
server:`` starts it and stops it at the end, whatever happened.  The shared Redis at 6379 is never
touched.

    with RedisServer() as server:
        state = await RedisState.connect(server.url, "t")
        server.kill()
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from types import TracebackType

from tests.ports import free_port

__all__ = ["RedisServer", "answers", "free_port"]

STARTUP = 10.0  # seconds a starting server may take to answer PING


def answers(port: int) -> bool:
    """True when a Redis on ``port`` answers PING with PONG."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process of the test's own, without persistence."""

    def __init__(self, *args: str) -> None:
        """``args``: more ``redis-server`` options, e.g. ``"--stream-node-max-entries", "4"``."""
        self.args = args
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The ``redis://`` URL of this server (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers PING (a failed start raises)."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed; apt-get install redis-server")
        self.process = subprocess.Popen(
            [
                *(binary, "--port", str(self.port), "--save", "", "--appendonly", "no"),
                *("--bind", "127.0.0.1", "--daemonize", "no", *self.args),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + STARTUP
        while not answers(self.port):
            if self.process.poll() is not None:
                problem = self.process.stderr.read() if self.process.stderr else b""
                raise RuntimeError(f"redis-server on port {self.port} exited: {problem!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server on port {self.port} did not answer PING")
            time.sleep(0.005)

    def kill(self) -> None:
        """SIGKILL the server and reap it; its keys are gone."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self._forget()

    def pause(self) -> None:
        """SIGSTOP: the server keeps its sockets open but answers nothing until ``resume()``."""
        if self.process is not None:
            self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT a paused server."""
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        """Kill the server and start a new, empty one on the same port."""
        self.kill()
        self.start()

    def stop(self) -> None:
        """Stop the server (resumed first if paused); nothing happens when it is not running."""
        if self.process is not None:
            self.resume()
            self.kill()

    def _forget(self) -> None:
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
