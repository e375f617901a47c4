"""WebSocket frames as the hub writes them: unmasked and final (RFC 6455 §5.2), built once and
written to every transport that takes them (``hub.fanout``)."""

from __future__ import annotations

import struct

# The two bytes that start a text frame of each payload length up to 125, and the four of a
# longer one: a frame is one concatenation, with no Python call for most of a move's frames.
SHORT_TEXT = [bytes((0x81, n)) for n in range(126)]
_MEDIUM = struct.Struct("!BBH").pack


def ws_frame(payload: bytes) -> bytes:
    """An unmasked, final WebSocket text frame carrying ``payload`` (RFC 6455 §5.2)."""
    n = len(payload)
    if n < 126:
        return SHORT_TEXT[n] + payload
    if n < 1 << 16:
        return _MEDIUM(0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


def text_frames(payloads: list[bytes]) -> list[bytes]:
    """``ws_frame`` of each of ``payloads`` (a move's events), in one call."""
    frames = []
    for p in payloads:
        n = len(p)
        if n < 126:
            frames.append(SHORT_TEXT[n] + p)
        elif n < 1 << 16:
            frames.append(_MEDIUM(0x81, 126, n) + p)
        else:
            frames.append(ws_frame(p))
    return frames


def close_frame(code: int, reason: str) -> bytes:
    """An unmasked close frame with ``code`` and a short ``reason`` (RFC 6455 §5.5.1)."""
    payload = struct.pack("!H", code) + reason.encode()[:123]
    return bytes((0x88, len(payload))) + payload


def pong_frame(payload: bytes) -> bytes:
    """An unmasked pong answering a ping's ``payload`` (at most 125 bytes, RFC 6455 §5.5)."""
    return bytes((0x8A, len(payload))) + payload
