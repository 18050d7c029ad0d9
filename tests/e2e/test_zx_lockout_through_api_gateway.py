"""The authentication-failure limiter through the deployed stack: failures from one address are
throttled, valid credentials from the same address never are. Runs near the end (file name):
it leaves the local address with a full window of failures."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

THRESHOLD = 10  # the template's AuthFailureThreshold default


def test_failures_are_throttled_but_a_valid_token_from_the_same_address_is_served(
    api: httpx.Client, stack: dict[str, Any]
) -> None:
    base = str(api.base_url)
    with httpx.Client(base_url=base, timeout=60) as anonymous:
        bad = {"Authorization": "Bearer not-a-token"}
        statuses = [anonymous.get("/models/", headers=bad).status_code for _ in range(THRESHOLD + 2)]
    assert 429 in statuses and set(statuses) <= {401, 429}
    assert statuses.index(429) <= THRESHOLD  # earlier tests may have failed from this address too
    # The same source address (everything behind one NAT, or the dashboard's backend) with valid
    # credentials: never refused by the failure limiter.
    assert api.get("/models/").status_code == 200
    assert api.get("/info").status_code == 200
