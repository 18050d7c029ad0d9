"""A FIWARE sandbox for the whole session: started on free ports with a unique database (dropped at
the end), unless ``CHRONOS_SANDBOX_{ORION,STH,IOTA}_URL`` point at one already running."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from local.fiware_sandbox.testing import Sandbox, sandbox_from_env, start_sandbox


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    existing = sandbox_from_env()
    if existing is not None:
        yield existing
        existing.clear_faults()
        return
    started = start_sandbox()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(autouse=True)
def _no_faults(sandbox: Sandbox) -> Iterator[None]:
    sandbox.clear_faults()
    yield
    sandbox.clear_faults()


@pytest.fixture
def service() -> str:
    """A fresh tenant per test, so tests never see each other's data."""
    return f"t{uuid.uuid4().hex[:12]}"
