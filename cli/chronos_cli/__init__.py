"""The `chronos` command line for a Chronos deployment."""

__version__ = "0.1.0"
