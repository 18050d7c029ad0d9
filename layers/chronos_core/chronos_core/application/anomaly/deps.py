"""What the anomaly-scan use cases depend on."""

from __future__ import annotations

from typing import Protocol

from chronos_core.application.models.deps import ModelsDeps
from chronos_core.application.ports.anomaly import (
    AnomalyFindings,
    AnomalyPublisher,
    AnomalyScans,
    ScanJournal,
    ScorerLoader,
)
from chronos_core.application.ports.pipeline import ObjectStore, SeriesSource, Workflow
from chronos_core.application.ports.training_jobs import JobLookup
from chronos_core.application.training.pipeline.deps import PipelineSettings


class ScanQueryDeps(ModelsDeps, Protocol):
    """Reading scans and their findings."""

    @property
    def scans(self) -> AnomalyScans: ...

    @property
    def findings(self) -> AnomalyFindings: ...


class ScanControlDeps(ScanQueryDeps, Protocol):
    """Admitting, cancelling and retrying scans: the training jobs they score with, the series,
    and the scan state machine."""

    @property
    def jobs(self) -> JobLookup: ...

    @property
    def series(self) -> SeriesSource: ...

    @property
    def scan_workflow(self) -> Workflow: ...


class ScanPipelineDeps(ModelsDeps, Protocol):
    """The plan and score steps: how to chunk (``scan_pipeline_settings``, the same kind of
    settings as the training's collection), the series, the checkpoints and the scorer."""

    @property
    def scans(self) -> ScanJournal: ...

    @property
    def jobs(self) -> JobLookup: ...

    @property
    def series(self) -> SeriesSource: ...

    @property
    def objects(self) -> ObjectStore: ...

    @property
    def scorers(self) -> ScorerLoader: ...

    @property
    def scan_pipeline_settings(self) -> PipelineSettings: ...


class CombineDeps(ScanPipelineDeps, Protocol):
    @property
    def findings(self) -> AnomalyFindings: ...


class PublishDeps(ModelsDeps, Protocol):
    @property
    def scans(self) -> ScanJournal: ...

    @property
    def findings(self) -> AnomalyFindings: ...

    @property
    def anomaly_publisher(self) -> AnomalyPublisher: ...


class ScanFailureDeps(Protocol):
    @property
    def scans(self) -> ScanJournal: ...
