"""The API key of each tenant's forecast service group, on ``forecast_service_groups``."""

from __future__ import annotations

from collections.abc import Callable

from pymongo.collection import Collection
from pymongo.database import Database

from chronos_core.adapters.mongo.client import FORECAST_SERVICE_GROUPS, Document, with_retries
from chronos_core.domain.fiware import FiwareTenant
from chronos_core.domain.model import utcnow


class MongoServiceGroupKeys:
    """``_id = "<service>|<servicepath>"`` → the tenant's random IoT Agent API key, created once
    with an upsert so that concurrent enables agree on one key."""

    def __init__(self, db: Database[Document], attempts: int = 3) -> None:
        self._groups: Collection[Document] = db[FORECAST_SERVICE_GROUPS]
        self._attempts = attempts

    @with_retries
    def api_key(self, tenant: FiwareTenant, generate: Callable[[], str]) -> str:
        """The tenant's key: ``generate()``'s value the first time (race-free), then the same."""
        key = f"{tenant.service}|{tenant.servicepath}"
        self._groups.update_one(
            {"_id": key}, {"$setOnInsert": {"apikey": generate(), "created_at": utcnow()}}, upsert=True
        )
        doc = self._groups.find_one({"_id": key})
        assert doc is not None
        return str(doc["apikey"])
