"""Attacks on real ``python -m hub serve`` processes, in short versions for CI.

The long versions run from ``benchmarks/reliability.py``, with these same attack functions.
"""
