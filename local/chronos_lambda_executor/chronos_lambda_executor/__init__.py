"""LocalStack Lambda runtime executor for Chronos: handlers run in subprocesses, no Docker.

Importing this package must not import LocalStack (the plugin loads the executor lazily).
"""

from __future__ import annotations

PLUGIN_NAME = "chronos-subprocess"
"""Value of ``LAMBDA_RUNTIME_EXECUTOR`` that selects this executor."""
