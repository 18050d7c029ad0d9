"""A FIWARE sandbox for the contract tests (same rules as tests/integration/fiware)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.fiware_sandbox.testing import Sandbox, sandbox_from_env, start_sandbox


@pytest.fixture(scope="session")
def contract_sandbox() -> Iterator[Sandbox]:
    existing = sandbox_from_env()
    if existing is not None:
        existing.clear_faults()
        yield existing
        return
    started = start_sandbox()
    try:
        yield started
    finally:
        started.stop()
