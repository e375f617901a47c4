"""The rps-hub terminal client and a small async client library over ``websockets``."""
