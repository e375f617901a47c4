"""The hub's settings, as the CLI and ``RPS_HUB_*`` environment variables give them."""

from __future__ import annotations

from attrs import frozen


@frozen
class Config:
    """Everything ``create_app`` needs; defaults are SPEC §5's."""

    host: str = "127.0.0.1"
    port: int = 8080
    db: str = "rps-hub.db"
    round_deadline: float = 30.0
    grace: float = 10.0
    heartbeat: float = 20.0
    allow_origin: tuple[str, ...] = ()
    legacy_api: bool = False
    # Protection limits (SPEC §3); tests and benchmarks may tune them.
    rate: float = 20.0
    burst: int = 40
    abuse_limit: int = 100
    abuse_window: float = 10.0
    outbound_frames: int = 1000
    outbound_bytes: int = 1 << 20
    history: int = 1000
    max_body: int = 64 * 1024
