"""MongoDB adapters, one per collection (or per group of collections a single adapter owns).

Documents keep ids as UUID strings in ``id`` (``_id`` stays Mongo's own where it is not a natural
key) and datetimes as BSON dates in UTC. The code uses only features that FerretDB v1 also
implements, so any real MongoDB works unchanged; FerretDB workarounds stay inside these modules.
"""

from chronos_core.adapters.mongo.anomaly_scans import MongoAnomalyFindings, MongoAnomalyScanRepository
from chronos_core.adapters.mongo.auth_failures import MongoAuthFailureCounter
from chronos_core.adapters.mongo.client import (
    TRAINING_LOCKS,
    Document,
    call_with_retries,
    create_client,
    ensure_indexes,
    with_retries,
)
from chronos_core.adapters.mongo.forecast_schedule import MongoForecastSchedule
from chronos_core.adapters.mongo.health import MongoHealthProbe
from chronos_core.adapters.mongo.leases import MongoLeases
from chronos_core.adapters.mongo.models import MongoModelRepository
from chronos_core.adapters.mongo.retraining import (
    MongoModelEvents,
    MongoRetrainingPolicies,
    MongoRetrainingRuns,
)
from chronos_core.adapters.mongo.service_group_keys import MongoServiceGroupKeys
from chronos_core.adapters.mongo.training_jobs import MongoTrainingJobRepository

__all__ = [
    "TRAINING_LOCKS",
    "Document",
    "MongoAnomalyFindings",
    "MongoAnomalyScanRepository",
    "MongoAuthFailureCounter",
    "MongoForecastSchedule",
    "MongoHealthProbe",
    "MongoLeases",
    "MongoModelEvents",
    "MongoModelRepository",
    "MongoRetrainingPolicies",
    "MongoRetrainingRuns",
    "MongoServiceGroupKeys",
    "MongoTrainingJobRepository",
    "call_with_retries",
    "create_client",
    "ensure_indexes",
    "with_retries",
]
