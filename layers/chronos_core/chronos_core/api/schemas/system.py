"""Health and information."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class DependencyStatus(BaseModel):
    name: str
    status: str
    required: bool
    latency_ms: float | None
    message: str | None = None


class HealthResponse(BaseModel):
    status: str
    checked_at: str
    dependencies: list[DependencyStatus]


class InfoResponse(BaseModel):
    name: str
    version: str
    environment: str
    started_at: str
    uptime_seconds: float
    configuration: dict[str, Any]
