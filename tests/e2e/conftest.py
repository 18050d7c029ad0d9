"""End-to-end fixtures: the stack deployed into LocalStack by `local/stack.py deploy`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

STACK_FILE = Path(__file__).resolve().parents[2] / ".local" / "stack.json"


@pytest.fixture(scope="session")
def stack() -> dict[str, Any]:
    """Outputs of the deployed stack; fails when nothing is deployed."""
    if not STACK_FILE.exists():
        pytest.fail("The stack is not deployed: run `make test` (or local/stack.py up && deploy)")
    return json.loads(STACK_FILE.read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def api(stack: dict[str, Any]) -> Iterator[httpx.Client]:
    """An HTTP client whose base URL is the API Gateway stage in LocalStack."""
    with httpx.Client(base_url=stack["ApiUrl"].rstrip("/"), timeout=60) as client:
        yield client
