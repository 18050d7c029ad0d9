"""What the training pipeline runs on: the series source, pipeline storage, the workflow, and
the forecasting library's preparation and training."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from chronos_core.domain.artifacts import ArtifactRefs
from chronos_core.domain.evaluation import TrainingResult
from chronos_core.domain.ids import JobId
from chronos_core.domain.model import FiwareSource, Model
from chronos_core.domain.training_job import ChunkSpec, DatasetSummary, EpochProgress, TimeWindow

#: ``(epoch seconds, value or None)``: a point as the pipeline stores it.
RawPoint = tuple[float, float | None]
#: ``(UTC time, value or None)``: a point as the series source returns it.
TimedPoint = tuple[datetime, float | None]


@dataclass(frozen=True)
class CollectedPart:
    """What one call collected of a chunk: ``points`` oldest first, and ``rest``, the part of the
    chunk still to collect when the call stopped for time (None: the chunk is complete)."""

    points: list[TimedPoint]
    rest: ChunkSpec | None = None


class SeriesSource(Protocol):
    """Where a model's history lives (STH-Comet): count, delimit and page points, oldest first."""

    def count(self, source: FiwareSource) -> int:
        """Points stored for the model's entity attribute. Raises UpstreamError or
        DependencyUnavailableError."""

    def count_between(self, source: FiwareSource, date_from: datetime, date_to: datetime) -> int:
        """Points received in ``[date_from, date_to)``. Raises UpstreamError or
        DependencyUnavailableError."""

    def bounds(self, source: FiwareSource, offset: int, count: int) -> TimeWindow | None:
        """The reception times of points ``offset`` and ``offset+count-1`` (None when the range
        holds no point), however this source pages."""

    def time_window(self, source: FiwareSource, offset: int, count: int) -> TimeWindow | None:
        """The reception times of points ``offset`` and ``offset+count-1`` when this source reads
        ranges of time cheaper than ranges of offsets (the pipeline then slices the window in
        time); None when it reads by offset, or the range holds no point."""

    def collect(self, source: FiwareSource, chunk: ChunkSpec, *, pages_in_flight: int = 1) -> CollectedPart:
        """The chunk's points, oldest first, with at most ``pages_in_flight`` requests at once.
        Inside a time budget (:mod:`chronos_core.deadlines`) it stops before the budget runs out
        and returns the ``rest``, having collected at least one page. Raises UpstreamError or
        DependencyUnavailableError."""

    def last_n(self, source: FiwareSource, n: int) -> list[TimedPoint]:
        """The most recent ``n`` points, oldest first."""


class ObjectStore(Protocol):
    """Pipeline data (S3): checkpoints and datasets under ``jobs/<job_id>/``."""

    def exists(self, key: str) -> bool: ...
    def put_json(self, key: str, document: Any) -> None: ...
    def get_json(self, key: str) -> Any: ...
    def list_keys(self, prefix: str) -> list[str]: ...
    def delete_prefix(self, prefix: str) -> int: ...


@dataclass(frozen=True)
class ExecutionState:
    """How an execution stands: ``status`` is Step Functions' (``RUNNING``, ``SUCCEEDED``,
    ``FAILED``, ``TIMED_OUT``, ``ABORTED``); ``error`` and ``cause`` are the ones it ended with."""

    status: str
    error: str | None = None
    cause: str | None = None
    stopped_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self.status == "RUNNING"


class Workflow(Protocol):
    """The training state machine."""

    def start(self, name: str, payload: dict[str, Any]) -> str:
        """Start an execution called ``name``; return its ARN. Raises ConflictError when an
        execution of that name exists already."""

    def stop(self, execution_arn: str, cause: str) -> None:
        """Stop a running execution (a no-op when it has ended)."""

    def console_url(self, execution_arn: str) -> str | None:
        """A link to the execution in the AWS console, when it exists."""

    def describe(self, execution_arn: str) -> ExecutionState | None:
        """The execution's state, or None when it does not exist (any more)."""


class ProgressReporter(Protocol):
    """Receives live progress of a training run; may ask it to stop (cancellation)."""

    def phase(self, name: str) -> None:
        """A new phase started: ``preprocessing``, ``training``, ``exporting``, ``evaluating``,
        ``saving``."""

    def epoch(self, progress: EpochProgress) -> None:
        """An epoch finished. Must be cheap or throttle itself: it runs inside the fit loop."""

    def should_stop(self) -> bool:
        """True to stop the fit at the end of the current epoch (the run is then cancelled)."""


class DatasetPreparer(Protocol):
    """Checks collected points before the expensive training starts."""

    def summarize(self, points: Sequence[RawPoint], model: Model) -> DatasetSummary:
        """Clean, grid and split ``points`` as training will. Raises InsufficientDataError
        (naming what is missing) when the model cannot be trained on them."""


@dataclass(frozen=True)
class ChampionRef:
    """The model's champion as a challenger's training sees it: its job and artifacts."""

    job_id: JobId
    artifacts: ArtifactRefs


@dataclass(frozen=True)
class TrainOptions:
    """What a retraining adds to a training: the ``champion`` to score next to it on its test
    split, and whether to start from the champion's weights (``warm_start``)."""

    champion: ChampionRef | None = None
    warm_start: bool = False


class Trainer(Protocol):
    """Fits, exports, evaluates and stores one training run."""

    def train(
        self,
        points: Sequence[RawPoint],
        model: Model,
        job_id: JobId,
        progress: ProgressReporter,
        options: TrainOptions | None = None,
    ) -> TrainingResult:
        """Train the model on ``points`` and store the artifacts; with ``options.champion``,
        score the champion's served forecaster on the same test windows (``comparison``), and
        with ``options.warm_start`` start from its weights when the architecture matches.
        Raises TrainingCancelledError when ``progress`` asks it to stop, InsufficientDataError
        and other ChronosErrors; nothing is stored unless it succeeds."""
