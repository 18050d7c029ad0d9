"""The scan (and its model and job) a step works on."""

from __future__ import annotations

from chronos_core.application.models.deps import ModelsDeps
from chronos_core.application.ports.anomaly import ScanLookup
from chronos_core.application.ports.training_jobs import JobLookup
from chronos_core.domain.anomaly import AnomalyScan
from chronos_core.domain.errors import NotFoundError
from chronos_core.domain.ids import ScanId
from chronos_core.domain.model import Model
from chronos_core.domain.training_job import TrainingJob


def require_scan(scans: ScanLookup, scan_id: ScanId) -> AnomalyScan:
    scan = scans.get(scan_id)
    if scan is None:
        raise NotFoundError(f"Anomaly scan {scan_id} not found")
    return scan


def require_model(deps: ModelsDeps, scan: AnomalyScan) -> Model:
    model = deps.models.get(scan.model_id)
    if model is None:
        raise NotFoundError(f"Model {scan.model_id} of anomaly scan {scan.id} not found")
    return model


def require_job(jobs: JobLookup, scan: AnomalyScan) -> TrainingJob:
    job = jobs.get(scan.job_id)
    if job is None:
        raise NotFoundError(f"Training job {scan.job_id} of anomaly scan {scan.id} not found")
    return job
