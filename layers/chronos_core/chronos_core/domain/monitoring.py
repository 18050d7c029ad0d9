"""Model monitoring: alert rules, their state machine, alerts, events and silences. No I/O.

A **rule** watches one model (or one of its jobs) with one metric (:class:`RuleType`). Each
evaluation of a rule yields an :class:`Observation`: ``breach``, ``ok``, ``no_data`` (the sensor
is silent, no forecast), ``error`` (STH or Orion failed), ``awaiting_actuals`` (forecasts are
published but their actual values have not arrived) or ``unchanged`` (nothing new to look at).
The rule's ``on_no_data`` and ``on_error`` turn the last two kinds into an :class:`Effect`
(:func:`effect_of`), and :func:`step` moves the rule's :class:`RuleState` through

    ok → pending → firing → (recovering →) ok,   plus no_data, error and awaiting_actuals.

* **Pending.** A bad effect (a breach, or no data/error treated as their own states) starts
  ``pending``; the alert fires once it has lasted ``for_seconds`` (Prometheus' ``for``) or, with
  ``pending_evaluations = {m, n}``, once ``m`` of the last ``n`` evaluations were bad
  (CloudWatch's M of N). A good evaluation in ``pending`` returns to ``ok`` (with M of N: once no
  bad evaluation is left in the window), and nothing is ever notified for it.
* **Firing.** ``firing``, ``no_data`` and ``error`` are the *active* states: an alert (one
  episode of a fingerprint) exists while the rule is in one of them. An active rule resolves on a
  good evaluation (M of N: when fewer than ``m`` of the last ``n`` are bad), after
  ``keep_firing_for_seconds`` in ``recovering`` when that is set (no flapping on one good point).
* **Notifications** (Alertmanager's ``needsUpdate``): when an episode starts, again after
  ``repeat_interval_seconds`` while it lasts (unless acknowledged), and when it resolves if
  ``notify_on_resolve``. Silences hold notifications back; a resolution still reaches every
  channel that saw the firing.

Every transition is an :class:`AlertEvent` carrying the values that caused it.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from chronos_core.domain.errors import ValidationError
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.model import Model, UtcDateTime, iso_z, utcnow

#: The EventBridge schedule runs every minute: no rule is evaluated more often.
MIN_EVALUATION_SECONDS: Final = 60
MAX_EVALUATION_SECONDS: Final = 86_400
MAX_PENDING_SECONDS: Final = 7 * 86_400
MAX_CHANNELS_PER_RULE: Final = 10
DEFAULT_REPEAT_SECONDS: Final = 4 * 3600
#: Longest text an event or alert message keeps.
MAX_MESSAGE_LENGTH: Final = 500


class Severity(StrEnum):
    """The Smart Data Models ``Alert`` severities."""

    INFORMATIONAL = "informational"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class RuleType(StrEnum):
    LIVE_ACCURACY = "live_accuracy"
    INPUT_DRIFT = "input_drift"
    STALENESS = "staleness"
    PREDICTED_CROSSING = "predicted_crossing"
    OBSERVED_THRESHOLD = "observed_threshold"
    FORECAST_FAILURES = "forecast_failures"
    TRAINING_FAILED = "training_failed"


class NoDataPolicy(StrEnum):
    """What an evaluation without data does (Grafana's NoData / CloudWatch's TreatMissingData)."""

    NO_DATA = "no_data"
    ALERTING = "alerting"
    OK = "ok"
    KEEP_LAST = "keep_last"


class ErrorPolicy(StrEnum):
    """What an evaluation that failed (STH or Orion down) does."""

    ERROR = "error"
    NO_DATA = "no_data"
    ALERTING = "alerting"
    OK = "ok"
    KEEP_LAST = "keep_last"


Direction = Literal["above", "below"]

# ------------------------------------------------------------------------------- parameters

_Strict = ConfigDict(extra="forbid", frozen=True)
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Probability = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
Threshold = Annotated[float, Field(allow_inf_nan=False)]


class LiveAccuracyParams(BaseModel):
    """Live error of the published forecasts once their actual values are in STH.

    ``metric``: ``mae`` (fires when the live MAE over the chosen ``steps`` exceeds ``max_ratio``
    × the test-split MAE recorded at training, or ``max_value``), ``bias`` (mean forecast −
    actual; fires when ``|bias| > max_value``) or ``coverage`` (empirical coverage of the
    ``level`` interval; fires below ``min_coverage``, default nominal − 0.15). Scores the last
    ``window`` published forecasts; fewer than ``min_scored`` scored targets is
    ``awaiting_actuals``.
    """

    model_config = _Strict

    type: Literal["live_accuracy"] = "live_accuracy"
    metric: Literal["mae", "bias", "coverage"] = "mae"
    window: int = Field(default=24, ge=1, le=500)
    steps: list[Annotated[int, Field(ge=1, le=8760)]] | None = Field(default=None, max_length=100)
    max_ratio: PositiveFloat | None = None
    max_value: PositiveFloat | None = None
    level: Literal["80", "95"] = "80"
    min_coverage: Probability | None = None
    min_scored: int = Field(default=5, ge=1, le=10_000)

    @model_validator(mode="after")
    def _threshold_for_metric(self) -> Self:
        if self.metric == "mae" and self.max_ratio is None and self.max_value is None:
            object.__setattr__(self, "max_ratio", 2.0)
        if self.metric == "bias" and self.max_value is None:
            raise ValueError("max_value: a bias rule needs max_value (the largest |bias| allowed)")
        if self.metric == "coverage" and self.min_coverage is None:
            object.__setattr__(self, "min_coverage", round(int(self.level) / 100 - 0.15, 4))
        return self


class InputDriftParams(BaseModel):
    """The recent input window against the training reference.

    ``test``: ``ks`` (two-sample Kolmogorov-Smirnov; fires when its p-value < ``alpha``) or
    ``psi`` (population stability index on ``bins`` reference quantile bins; fires above
    ``psi_threshold``). ``normalization``: ``relative`` compares values relative to their
    window's last value, as the network sees them; ``level`` compares raw values. ``window``
    recent points (default: the model's lookback); the reference is the last
    ``reference_points`` points of the training data.
    """

    model_config = _Strict

    type: Literal["input_drift"] = "input_drift"
    test: Literal["ks", "psi"] = "ks"
    normalization: Literal["relative", "level"] = "relative"
    window: int | None = Field(default=None, ge=10, le=5000)
    reference_points: int = Field(default=1000, ge=50, le=5000)
    alpha: Probability = 0.05
    psi_threshold: PositiveFloat = 0.2
    bins: int = Field(default=10, ge=2, le=50)


class StalenessParams(BaseModel):
    """No new point for more than ``factor`` × the sampling interval (Perseo's ``nosignal``);
    ``interval_seconds`` defaults to the training data's."""

    model_config = _Strict

    type: Literal["staleness"] = "staleness"
    factor: float = Field(default=3.0, ge=1.0, le=1000, allow_inf_nan=False)
    interval_seconds: PositiveFloat | None = None


class PredictedCrossingParams(BaseModel):
    """The probability, from each new forecast and its conformal bands, that the series goes
    ``direction`` of ``threshold`` within the first ``horizon_steps`` steps (all when None);
    fires at ``probability`` or more, with the lead time of the first step that reaches it."""

    model_config = _Strict

    type: Literal["predicted_crossing"] = "predicted_crossing"
    threshold: Threshold
    direction: Direction = "above"
    probability: Probability = 0.5
    horizon_steps: int | None = Field(default=None, ge=1, le=8760)


class ObservedThresholdParams(BaseModel):
    """The actual values: the ``aggregation`` of the last ``window_points`` points beyond
    ``threshold``; points older than ``max_age_seconds`` (when set) count as no data."""

    model_config = _Strict

    type: Literal["observed_threshold"] = "observed_threshold"
    threshold: Threshold
    direction: Direction = "above"
    aggregation: Literal["last", "mean", "max", "min"] = "last"
    window_points: int = Field(default=1, ge=1, le=1000)
    max_age_seconds: PositiveFloat | None = None


class ForecastFailuresParams(BaseModel):
    """The job's recurring forecast failed ``consecutive`` times in a row."""

    model_config = _Strict

    type: Literal["forecast_failures"] = "forecast_failures"
    consecutive: int = Field(default=3, ge=1, le=100)


class TrainingFailedParams(BaseModel):
    """The model's latest training job failed (resolves when a later one completes)."""

    model_config = _Strict

    type: Literal["training_failed"] = "training_failed"


RuleParams = Annotated[
    LiveAccuracyParams
    | InputDriftParams
    | StalenessParams
    | PredictedCrossingParams
    | ObservedThresholdParams
    | ForecastFailuresParams
    | TrainingFailedParams,
    Field(discriminator="type"),
]


class PendingEvaluations(BaseModel):
    """Fire when ``m`` of the last ``n`` evaluations were bad."""

    model_config = _Strict

    m: int = Field(ge=1, le=100, strict=True)
    n: int = Field(ge=1, le=100, strict=True)

    @model_validator(mode="after")
    def _m_within_n(self) -> Self:
        if self.m > self.n:
            raise ValueError("m cannot be greater than n")
        return self


# ------------------------------------------------------------------------------------ rules


class AlertRule(BaseModel):
    """A stored rule. Its tenant and series come from its model when it is created."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=1000)
    type: RuleType
    params: RuleParams
    model_id: ModelId
    job_id: JobId | None = None
    fiware_service: str
    fiware_servicepath: str = "/"
    entity_type: str
    entity_id: str
    attribute: str
    severity: Severity = Severity.MEDIUM
    evaluation_interval_seconds: int = MIN_EVALUATION_SECONDS
    for_seconds: int = 0
    pending_evaluations: PendingEvaluations | None = None
    keep_firing_for_seconds: int = 0
    on_no_data: NoDataPolicy = NoDataPolicy.NO_DATA
    on_error: ErrorPolicy = ErrorPolicy.ERROR
    channels: list[str] = Field(default_factory=list)
    repeat_interval_seconds: int | None = DEFAULT_REPEAT_SECONDS
    notify_on_resolve: bool = True
    enabled: bool = True
    created_by: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def fingerprint(self) -> str:
        """The dedup key of this rule's alerts: (tenant, rule, job, entity, attribute)."""
        return fingerprint(
            self.fiware_service, self.fiware_servicepath, self.id, self.job_id, self.entity_id, self.attribute
        )

    @property
    def window(self) -> int:
        """Evaluations the rule remembers (the M-of-N window; 1 without one)."""
        return self.pending_evaluations.n if self.pending_evaluations else 1


def fingerprint(
    service: str, servicepath: str, rule_id: str, job_id: str | None, entity_id: str, attribute: str
) -> str:
    """A stable hash of the labels that identify an alert (Alertmanager's ``hashAlert``)."""
    labels = "\x1f".join([service, servicepath, rule_id, job_id or "", entity_id, attribute])
    return hashlib.sha256(labels.encode()).hexdigest()[:16]


Seconds = Annotated[int, Field(strict=True)]


class RuleDraft(BaseModel):
    """What a caller supplies to create a rule. ``params`` are validated by ``type``."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str = Field(default="", max_length=1000)
    type: RuleType
    params: dict[str, Any] = Field(default_factory=dict)
    model_id: str = Field(min_length=1, max_length=64)
    job_id: str | None = Field(default=None, min_length=1, max_length=64)
    severity: Severity = Severity.MEDIUM
    evaluation_interval_seconds: Seconds = MIN_EVALUATION_SECONDS
    for_seconds: Seconds = 0
    pending_evaluations: PendingEvaluations | None = None
    keep_firing_for_seconds: Seconds = 0
    on_no_data: NoDataPolicy = NoDataPolicy.NO_DATA
    on_error: ErrorPolicy = ErrorPolicy.ERROR
    channels: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=MAX_CHANNELS_PER_RULE
    )
    repeat_interval_seconds: Seconds | None = DEFAULT_REPEAT_SECONDS
    notify_on_resolve: bool = Field(default=True, strict=True)
    enabled: bool = Field(default=True, strict=True)


class RuleChanges(BaseModel):
    """A partial update of a rule (its model, job and type are fixed; ``null`` keeps a field,
    except ``pending_evaluations`` and ``repeat_interval_seconds``, where an explicit ``null``
    removes them)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=1000)
    params: dict[str, Any] | None = None
    severity: Severity | None = None
    evaluation_interval_seconds: Seconds | None = None
    for_seconds: Seconds | None = None
    pending_evaluations: PendingEvaluations | None = None
    keep_firing_for_seconds: Seconds | None = None
    on_no_data: NoDataPolicy | None = None
    on_error: ErrorPolicy | None = None
    channels: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=MAX_CHANNELS_PER_RULE
    )
    repeat_interval_seconds: Seconds | None = None
    notify_on_resolve: bool | None = Field(default=None, strict=True)
    enabled: bool | None = Field(default=None, strict=True)


_NULLABLE_CHANGES: Final = frozenset({"pending_evaluations", "repeat_interval_seconds"})


def build_rule(draft: RuleDraft, model: Model, created_by: str | None = None) -> AlertRule:
    """A new rule on ``model`` (its tenant and series copied), every rule checked.

    Raises ValidationError naming each offending field (``params.threshold``,
    ``repeat_interval_seconds``...). Channels and the job are checked by the caller, which can
    read them.
    """
    values = draft.model_dump(exclude={"name", "params"})
    values.update(
        name=draft.name or f"{draft.type.value} - {model.source.entity_id}/{model.source.feature}"[:100],
        params={**draft.params, "type": draft.type.value},
        model_id=model.id,
        fiware_service=model.source.fiware_service,
        fiware_servicepath=model.source.fiware_servicepath,
        entity_type=model.source.entity_type,
        entity_id=model.source.entity_id,
        attribute=model.source.feature,
        created_by=created_by,
    )
    return _validated(values)


def apply_rule_changes(rule: AlertRule, changes: RuleChanges) -> AlertRule:
    """``rule`` with ``changes`` applied (fields the caller set), every rule checked again."""
    given = changes.model_dump(exclude_unset=True)
    values = rule.model_dump()
    for name, value in given.items():
        if value is None and name not in _NULLABLE_CHANGES:
            continue
        values[name] = value
    if "params" in given and given["params"] is not None:
        values["params"] = {**given["params"], "type": rule.type.value}
    values["updated_at"] = utcnow()
    return _validated(values)


def _validated(values: dict[str, Any]) -> AlertRule:
    try:
        rule = AlertRule.model_validate(values)
    except PydanticValidationError as exc:
        raise ValidationError("The alert rule is invalid.", details=_details(exc)) from exc
    problems = rule_problems(rule)
    if problems:
        raise ValidationError("The alert rule is invalid.", details=problems)
    return rule


def rule_problems(rule: AlertRule) -> list[dict[str, str]]:
    """Cross-field rules: intervals, pending settings, the repeat interval."""
    problems: list[dict[str, str]] = []

    def fail(field: str, message: str) -> None:
        problems.append({"field": field, "message": message})

    interval = rule.evaluation_interval_seconds
    if not MIN_EVALUATION_SECONDS <= interval <= MAX_EVALUATION_SECONDS:
        fail(
            "evaluation_interval_seconds",
            f"must be within {MIN_EVALUATION_SECONDS}..{MAX_EVALUATION_SECONDS} "
            "(the evaluator runs every minute)",
        )
    if not 0 <= rule.for_seconds <= MAX_PENDING_SECONDS:
        fail("for_seconds", f"must be within 0..{MAX_PENDING_SECONDS}")
    if not 0 <= rule.keep_firing_for_seconds <= MAX_PENDING_SECONDS:
        fail("keep_firing_for_seconds", f"must be within 0..{MAX_PENDING_SECONDS}")
    if rule.for_seconds and rule.pending_evaluations is not None:
        fail("pending_evaluations", "give either for_seconds or pending_evaluations, not both")
    repeat = rule.repeat_interval_seconds
    if repeat is not None and repeat < interval:
        fail(
            "repeat_interval_seconds",
            f"must be at least the evaluation interval ({interval} s); null never repeats",
        )
    if repeat is not None and repeat > 30 * 86_400:
        fail("repeat_interval_seconds", "must be at most 30 days")
    if len(set(rule.channels)) != len(rule.channels):
        fail("channels", "lists a channel twice")
    return problems


def _details(exc: PydanticValidationError) -> list[dict[str, str]]:
    details = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        if loc and loc[0] == "params" and len(loc) > 1 and loc[1] in RuleType._value2member_map_:
            loc = ["params", *loc[2:]]  # drop the union's tag: params.threshold, not params.<type>.threshold
        message = str(err["msg"]).removeprefix("Value error, ")
        field = ".".join(loc) or "body"
        if ": " in message and loc == ["params"]:  # a params model's cross-field rule names its field
            name, _, message = message.partition(": ")
            field = f"params.{name}"
        details.append({"field": field, "message": message})
    return details


# ------------------------------------------------------------------------------ evaluation


class Outcome(StrEnum):
    """What one evaluation found."""

    BREACH = "breach"
    OK = "ok"
    NO_DATA = "no_data"
    ERROR = "error"
    AWAITING_ACTUALS = "awaiting_actuals"
    #: Nothing new to evaluate (a predicted-crossing rule with no new forecast).
    UNCHANGED = "unchanged"


class Observation(BaseModel):
    """The result of evaluating a rule's metric once: the outcome, the headline ``value`` and
    ``threshold``, and every value behind it (the forecast, the window, the statistic...)."""

    model_config = ConfigDict(frozen=True)

    outcome: Outcome
    value: float | None = None
    threshold: float | None = None
    message: str = ""
    values: dict[str, Any] = Field(default_factory=dict)


class AlertState(StrEnum):
    OK = "ok"
    PENDING = "pending"
    FIRING = "firing"
    RECOVERING = "recovering"
    NO_DATA = "no_data"
    ERROR = "error"
    AWAITING_ACTUALS = "awaiting_actuals"

    @property
    def active(self) -> bool:
        """An alert episode exists in this state."""
        return self in ACTIVE_STATES


ACTIVE_STATES: Final = frozenset(
    {AlertState.FIRING, AlertState.RECOVERING, AlertState.NO_DATA, AlertState.ERROR}
)

Reason = Literal["breach", "no_data", "error"]
_STATE_OF_REASON: Final[dict[str, AlertState]] = {
    "breach": AlertState.FIRING,
    "no_data": AlertState.NO_DATA,
    "error": AlertState.ERROR,
}


class Effect(BaseModel):
    """What an observation does to the state machine: ``bad`` (with the reason: a breach, or
    no data / an error kept as their own states), ``good``, ``awaiting`` or ``none``."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["bad", "good", "awaiting", "none"]
    reason: Reason | None = None

    @property
    def code(self) -> str:
        """How the M-of-N window remembers it: ``b`` bad, ``g`` good (others are not kept)."""
        return "b" if self.kind == "bad" else "g"


def effect_of(rule: AlertRule, outcome: Outcome) -> Effect:
    """The effect of an outcome under the rule's ``on_no_data`` / ``on_error`` policies."""
    if outcome == Outcome.BREACH:
        return Effect(kind="bad", reason="breach")
    if outcome == Outcome.OK:
        return Effect(kind="good")
    if outcome == Outcome.AWAITING_ACTUALS:
        return Effect(kind="awaiting")
    if outcome == Outcome.UNCHANGED:
        return Effect(kind="none")
    policy = rule.on_no_data.value if outcome == Outcome.NO_DATA else rule.on_error.value
    if policy in ("no_data", "error"):
        return Effect(kind="bad", reason=policy)
    if policy == "alerting":
        return Effect(kind="bad", reason="breach")
    if policy == "ok":
        return Effect(kind="good")
    return Effect(kind="none")  # keep_last


class RuleState(BaseModel):
    """Where a rule stands. ``alert_id`` names the active episode; ``recent`` the last effects
    (M-of-N window); ``last_notified_at`` when the episode was last notified (or held back by a
    silence, ``notification_silenced``)."""

    model_config = ConfigDict(extra="ignore")

    rule_id: str
    state: AlertState = AlertState.OK
    since: datetime | None = None
    pending_since: datetime | None = None
    pending_reason: Reason | None = None
    recovering_since: datetime | None = None
    recent: list[str] = Field(default_factory=list)
    alert_id: str | None = None
    last_notified_at: datetime | None = None
    notification_silenced: bool = False
    #: The generated time of the last forecast a predicted-crossing rule evaluated.
    last_forecast_at: datetime | None = None
    #: The training reference of an input-drift rule: its job and sample.
    reference: DriftReference | None = None
    version: int = 0


class DriftReference(BaseModel):
    """The training reference sample of a drift rule (values as the rule compares them)."""

    model_config = ConfigDict(extra="ignore")

    job_id: str
    normalization: str
    values: list[float]
    window_from: datetime | None = None
    window_to: datetime | None = None


RuleState.model_rebuild()


class Transition(BaseModel):
    """A state change: from and to, whether an episode started or ended."""

    model_config = ConfigDict(frozen=True)

    from_state: AlertState
    to_state: AlertState

    @property
    def starts_episode(self) -> bool:
        return not self.from_state.active and self.to_state.active

    @property
    def ends_episode(self) -> bool:
        return self.from_state.active and not self.to_state.active


def step(
    rule: AlertRule, current: RuleState, effect: Effect, now: datetime
) -> tuple[RuleState, Transition | None]:
    """The state after one evaluation's ``effect``, and the transition when the state changed.

    Pure: the caller stores the new state and the transition's event, and opens or closes the
    episode's alert.
    """
    if effect.kind == "none":
        return current, None
    counted = effect.kind in ("bad", "good")  # the M-of-N window holds evaluations that judged
    recent = [*current.recent, effect.code][-rule.window :] if counted else list(current.recent)
    target = _next_state(rule, current, effect, recent, now)
    new = current.model_copy(update={"recent": recent})
    if target == current.state:
        if target == AlertState.PENDING and effect.reason:
            new = new.model_copy(update={"pending_reason": effect.reason})
        return new, None
    update: dict[str, Any] = {"state": target, "since": now}
    if target == AlertState.PENDING:
        update.update(pending_since=now, pending_reason=effect.reason)
    elif target != AlertState.RECOVERING:
        update.update(pending_since=None, pending_reason=None)
    update["recovering_since"] = now if target == AlertState.RECOVERING else None
    if not target.active:
        update.update(alert_id=None, last_notified_at=None, notification_silenced=False)
    return new.model_copy(update=update), Transition(from_state=current.state, to_state=target)


def _next_state(
    rule: AlertRule, current: RuleState, effect: Effect, recent: list[str], now: datetime
) -> AlertState:
    state = current.state
    if effect.kind == "awaiting":
        return state if state.active or state == AlertState.PENDING else AlertState.AWAITING_ACTUALS
    if effect.kind == "bad":
        firing = _STATE_OF_REASON[effect.reason or "breach"]
        if state.active:
            return firing
        since = current.pending_since if state == AlertState.PENDING and current.pending_since else now
        return firing if _pending_met(rule, since, recent, now) else AlertState.PENDING
    # good
    bad_left = recent.count("b")
    m_of_n = rule.pending_evaluations
    if state == AlertState.PENDING:
        return AlertState.PENDING if m_of_n is not None and bad_left > 0 else AlertState.OK
    if state.active:
        if m_of_n is not None and bad_left >= m_of_n.m:
            return state
        keep = timedelta(seconds=rule.keep_firing_for_seconds)
        if state == AlertState.RECOVERING:
            started = current.recovering_since or now
            return AlertState.OK if now - started >= keep else AlertState.RECOVERING
        return AlertState.RECOVERING if keep > timedelta(0) else AlertState.OK
    return AlertState.OK


def _pending_met(rule: AlertRule, since: datetime, recent: Sequence[str], now: datetime) -> bool:
    if rule.pending_evaluations is not None:
        return recent.count("b") >= rule.pending_evaluations.m
    return now - since >= timedelta(seconds=rule.for_seconds)


# ------------------------------------------------------------------------------- notifying


NotificationKind = Literal["firing", "repeat", "resolved"]


def notification_due(
    rule: AlertRule,
    state: RuleState,
    transition: Transition | None,
    now: datetime,
    *,
    acknowledged: bool = False,
) -> NotificationKind | None:
    """Whether to notify now, and what (Alertmanager's rules, made explicit):

    * ``firing`` when an episode starts, or while active when it was never notified (the
      firing was held back by a silence that has ended);
    * ``repeat`` while active, ``repeat_interval_seconds`` after the last notification, unless
      the alert is acknowledged or the rule never repeats;
    * ``resolved`` when an episode ends and the rule notifies resolutions.
    """
    if transition is not None and transition.ends_episode:
        return "resolved" if rule.notify_on_resolve else None
    if not state.state.active:
        return None
    if transition is not None and transition.starts_episode:
        return "firing"
    if state.last_notified_at is None or state.notification_silenced:
        return "firing"
    repeat = rule.repeat_interval_seconds
    if acknowledged or repeat is None:
        return None
    if now - state.last_notified_at >= timedelta(seconds=repeat):
        return "repeat"
    return None


# ----------------------------------------------------------------------------------- alerts


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class AlertOutcome(StrEnum):
    """How a predicted-crossing alert ended: the actual value crossed, or it did not."""

    MATERIALIZED = "materialized"
    AVERTED = "averted"


class PredictedCrossing(BaseModel):
    """What a predicted-crossing alert predicted when it fired."""

    model_config = ConfigDict(extra="ignore")

    threshold: float
    direction: Direction
    probability: float
    crossing_at: datetime | None = None
    lead_time_seconds: float | None = None
    deadline: datetime


class Alert(BaseModel):
    """One episode of a fingerprint: from the evaluation that made it active to the one that
    resolved it. Operational alerts (a channel disabled) have no rule."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    fingerprint: str
    rule_id: str | None
    rule_name: str
    rule_type: str
    severity: Severity
    status: AlertStatus = AlertStatus.FIRING
    state: AlertState = AlertState.FIRING
    model_id: str | None = None
    job_id: str | None = None
    fiware_service: str
    fiware_servicepath: str = "/"
    entity_type: str | None = None
    entity_id: str | None = None
    attribute: str | None = None
    #: The Orion entity the alert is about: the job's forecast entity, else the sensor's.
    source_entity_id: str | None = None
    message: str = ""
    value: float | None = None
    threshold: float | None = None
    values: dict[str, Any] = Field(default_factory=dict)
    started_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledgement_comment: str | None = None
    predicted: PredictedCrossing | None = None
    outcome: AlertOutcome | None = None
    outcome_at: datetime | None = None
    #: Seconds from firing to the actual crossing (materialized alerts).
    lead_time_seconds: float | None = None
    channels: list[str] = Field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.status == AlertStatus.FIRING


def open_alert(
    rule: AlertRule,
    state: AlertState,
    observation: Observation,
    now: datetime,
    source_entity_id: str | None = None,
) -> Alert:
    """The alert of an episode that starts now."""
    return Alert(
        fingerprint=rule.fingerprint,
        rule_id=rule.id,
        rule_name=rule.name,
        rule_type=rule.type.value,
        severity=rule.severity,
        state=state,
        model_id=rule.model_id,
        job_id=observation.values.get("job_id") or rule.job_id,
        fiware_service=rule.fiware_service,
        fiware_servicepath=rule.fiware_servicepath,
        entity_type=rule.entity_type,
        entity_id=rule.entity_id,
        attribute=rule.attribute,
        source_entity_id=source_entity_id or rule.entity_id,
        message=observation.message[:MAX_MESSAGE_LENGTH],
        value=observation.value,
        threshold=observation.threshold,
        values=observation.values,
        started_at=now,
        updated_at=now,
        predicted=predicted_crossing_of(rule, observation, now) if state == AlertState.FIRING else None,
        channels=list(rule.channels),
    )


def predicted_crossing_of(
    rule: AlertRule, observation: Observation, now: datetime
) -> PredictedCrossing | None:
    """What a firing predicted-crossing observation predicts (None for other rule types)."""
    params = rule.params
    if not isinstance(params, PredictedCrossingParams):
        return None
    values = observation.values
    deadline = _as_datetime(values.get("horizon_end")) or now
    return PredictedCrossing(
        threshold=params.threshold,
        direction=params.direction,
        probability=float(observation.value or 0.0),
        crossing_at=_as_datetime(values.get("crossing_at")),
        lead_time_seconds=values.get("lead_time_seconds"),
        deadline=deadline,
    )


def _as_datetime(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


class AlertEvent(BaseModel):
    """One stored transition of a rule, with the values that caused it."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    rule_id: str | None
    alert_id: str | None = None
    fingerprint: str
    fiware_service: str
    at: UtcDateTime
    from_state: AlertState
    to_state: AlertState
    outcome: Outcome
    value: float | None = None
    threshold: float | None = None
    message: str = ""
    values: dict[str, Any] = Field(default_factory=dict)


def event_of(
    rule: AlertRule, transition: Transition, observation: Observation, alert_id: str | None, now: datetime
) -> AlertEvent:
    return AlertEvent(
        rule_id=rule.id,
        alert_id=alert_id,
        fingerprint=rule.fingerprint,
        fiware_service=rule.fiware_service,
        at=now,
        from_state=transition.from_state,
        to_state=transition.to_state,
        outcome=observation.outcome,
        value=observation.value,
        threshold=observation.threshold,
        message=observation.message[:MAX_MESSAGE_LENGTH],
        values=observation.values,
    )


def crossed(value: float, threshold: float, direction: Direction) -> bool:
    """Whether ``value`` is beyond ``threshold`` (strictly above, or strictly below)."""
    return value > threshold if direction == "above" else value < threshold


def settle_outcome(
    alert: Alert, actuals: Sequence[tuple[datetime, float | None]], now: datetime
) -> tuple[AlertOutcome, datetime, float | None] | None:
    """The outcome of a predicted-crossing alert, once it is known: ``materialized`` at the
    first actual point at or after the firing that crossed (lead time = that point's time −
    the firing), ``averted`` when the deadline (the last horizon end of the forecasts that
    predicted the crossing) passed without one; None while undecided."""
    predicted = alert.predicted
    if predicted is None or alert.outcome is not None:
        return None
    for at, value in actuals:
        if value is None or at < alert.started_at or at > predicted.deadline:
            continue
        if crossed(value, predicted.threshold, predicted.direction):
            return AlertOutcome.MATERIALIZED, at, (at - alert.started_at).total_seconds()
    if now > predicted.deadline:
        return AlertOutcome.AVERTED, now, None
    return None


class RuleStats(BaseModel):
    """How a rule's alerts went: episodes fired, and for predicted crossings their outcomes, the
    precision ``materialized / (materialized + averted)`` and the median lead time."""

    fired: int
    active: int
    materialized: int = 0
    averted: int = 0
    undecided: int = 0
    precision: float | None = None
    median_lead_time_seconds: float | None = None


def rule_stats(alerts: Sequence[Alert]) -> RuleStats:
    materialized = [a for a in alerts if a.outcome == AlertOutcome.MATERIALIZED]
    averted = sum(1 for a in alerts if a.outcome == AlertOutcome.AVERTED)
    leads = sorted(a.lead_time_seconds for a in materialized if a.lead_time_seconds is not None)
    decided = len(materialized) + averted
    return RuleStats(
        fired=len(alerts),
        active=sum(1 for a in alerts if a.active),
        materialized=len(materialized),
        averted=averted,
        undecided=sum(1 for a in alerts if a.predicted is not None and a.outcome is None),
        precision=round(len(materialized) / decided, 4) if decided else None,
        median_lead_time_seconds=median(leads),
    )


def median(values: Sequence[float]) -> float | None:
    """The median of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[mid])
    return (ordered[mid - 1] + ordered[mid]) / 2


# ---------------------------------------------------------------------------------- silences


class SilenceDraft(BaseModel):
    """Hold notifications back for a rule or for every rule of a model, from ``starts_at``
    (default now) until ``ends_at``."""

    model_config = ConfigDict(extra="forbid")

    rule_id: str | None = Field(default=None, min_length=1, max_length=64)
    model_id: str | None = Field(default=None, min_length=1, max_length=64)
    starts_at: datetime | None = None
    ends_at: datetime
    comment: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.rule_id is None) == (self.model_id is None):
            raise ValueError("give exactly one of rule_id and model_id")
        return self


class Silence(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    fiware_service: str
    rule_id: str | None = None
    model_id: str | None = None
    starts_at: datetime
    ends_at: datetime
    comment: str = ""
    created_by: str | None = None
    created_at: datetime = Field(default_factory=utcnow)

    def matches(self, rule: AlertRule, at: datetime) -> bool:
        """Whether this silence holds back ``rule``'s notifications at ``at``."""
        if not self.starts_at <= at < self.ends_at:
            return False
        return self.rule_id == rule.id or self.model_id == rule.model_id


def build_silence(draft: SilenceDraft, fiware_service: str, created_by: str | None, now: datetime) -> Silence:
    """A silence in ``fiware_service``. Raises ValidationError (``ends_at`` not after the start
    or in the past)."""
    starts = draft.starts_at or now
    if draft.ends_at <= starts or draft.ends_at <= now:
        raise ValidationError(
            "The silence is invalid.",
            details=[{"field": "ends_at", "message": "must be after starts_at and in the future"}],
        )
    return Silence(
        fiware_service=fiware_service,
        rule_id=draft.rule_id,
        model_id=draft.model_id,
        starts_at=starts,
        ends_at=draft.ends_at,
        comment=draft.comment,
        created_by=created_by,
    )


def finite_or_none(value: float | None) -> float | None:
    """``value`` unless it is NaN or infinite (stored values are JSON)."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def json_safe(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` as plain JSON (recursively): non-finite floats become None, datetimes ISO-8601
    ``Z`` strings, models their dumps. Observation values and notification bodies go through it."""

    def clean(item: Any) -> Any:
        if isinstance(item, float):
            return finite_or_none(item)
        if isinstance(item, datetime):
            return iso_z(item)
        if isinstance(item, BaseModel):
            return clean(item.model_dump())
        if isinstance(item, Mapping):
            return {str(k): clean(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [clean(v) for v in item]
        return item

    return {str(k): clean(v) for k, v in values.items()}
