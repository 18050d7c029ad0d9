"""Chronos core: domain, use cases and adapters shared by every Chronos Lambda."""

__version__ = "0.1.0"
