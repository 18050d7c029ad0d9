"""The Chronos demo against the deployed local stack (run by `make demo`).

Today it creates a model definition through the deployed API Gateway URL and reads it back.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def main() -> int:
    stack = json.loads((ROOT / ".local" / "stack.json").read_text())
    api_url = stack["ApiUrl"]
    step(f"API Gateway stage: {api_url}")
    with httpx.Client(base_url=api_url, timeout=60) as api:
        health = api.get("/health")
        print(f"GET /health -> {health.status_code} {health.json()['status']}")
        for dep in health.json()["dependencies"]:
            print(f"   {dep['name']:<14} {dep['status']:<5} {dep['latency_ms']} ms")

        step("Create an LSTM model for the electricity demand of a building")
        response = api.post(
            "/models/",
            json={
                "model_type": "lstm",
                "rnn_layers": [{"units": 64, "dropout": 0.1}],
                "lookback_window": 336,
                "forecast_horizon": 48,
                "feature": "demand",
                "entity_type": "ElectricityMeter",
                "entity_id": "urn:ngsi-ld:ElectricityMeter:taylor",
                "fiware_service": "energy",
                "fiware_servicepath": "/demo",
            },
        )
        response.raise_for_status()
        model = response.json()
        print(json.dumps(model, indent=2))

        step(f"Read it back: GET /models/{model['id']}")
        fetched = api.get(f"/models/{model['id']}")
        print(f"-> {fetched.status_code}, status {fetched.json()['status']}, name {fetched.json()['name']!r}")
        listed = api.get("/models/", params={"entity_id": model["entity_id"]}).json()
        print(f"GET /models/?entity_id=... -> {listed['total']} model(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
