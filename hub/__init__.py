"""The I/O edge of rps-hub: the aiohttp app, WebSocket and REST handlers, fan-out, the CLI."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rps-hub")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
