"""``GET /training-queue``: the concurrency limits, the trainings holding slots and the ones
waiting, with positions and estimated waits."""

from __future__ import annotations

from fastapi import APIRouter

from chronos_core.api.deps import ServicesDep
from chronos_core.api.routing import AuthenticatedRoute
from chronos_core.api.security import Reader
from chronos_core.application.training.queue import QueueSnapshot, queue_snapshot

router = APIRouter(tags=["Training"], route_class=AuthenticatedRoute)


@router.get("/training-queue", response_model=QueueSnapshot)
def training_queue(principal: Reader, services: ServicesDep) -> QueueSnapshot:
    """The queue as the caller may see it: only its tenants' jobs are listed (positions and
    waits count every tenant's)."""
    return queue_snapshot(services, principal.visible_services())
