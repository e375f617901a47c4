"""Persistence for rps-hub behind one small interface, ``storage.base.Storage``."""
