"""The pure core of rps-hub: wire messages, rule sets, the game state machine, the lobby.

Nothing here does I/O, reads a clock or draws randomness of its own: time and random sources come in
as parameters, so every step is deterministic under test.
"""

PROTOCOL_VERSION = 1
