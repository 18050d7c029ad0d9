"""The promotion gate: which forecaster to serve, on evidence that noise cannot fake. Pure numpy.

Candidates: the two baselines (``seasonal_naive``, ``last_value``), the ``network``, and a
``blend`` ``w x network + (1 - w) x best baseline`` with ``w`` on a grid of
:data:`BLEND_GRID_STEPS` + 1 values in ``[0, 1]`` minimising the validation MAE.

Two splits are used, never the test split (it stays for honest reporting):

- **validation**, the windows whose targets lie in the validation split;
- **backtest**, a rolling-origin backtest over the end of the training split (as many grid
  points as the validation split): out of sample for the baselines, in sample for the network
  (it was fitted there), so it can only veto a challenger, never vouch for one.

Rule:

1. The **best baseline** has the lower MAE on validation and backtest windows together (a tie
   goes to ``last_value``, the simpler one).
2. A challenger (the network, the blend) **passes** when (a) its validation MAE is below
   ``(1 - gate_margin)`` x the best baseline's, (b) a one-sided Diebold-Mariano test on the
   per-window loss differential ``(1 - gate_margin) x L_base - L_cand`` over the validation
   windows (Newey-West variance, lag >= H - 1; :mod:`chronos_core.ml.significance`) has a p-value
   below ``gate_significance_level``, and (c) it also beats ``(1 - gate_margin)`` x the best
   baseline on the backtest (skipped when the backtest has no window). The blend's validation
   losses are cross-fitted: each half of the validation windows is scored with the weight fitted
   on the other half, so the fitted weight does not flatter it.
3. The passing challenger with the lower validation MAE is served; when none passes, the best
   baseline is. So the served forecaster is never worse than the better baseline on validation
   and backtest, and a network barely ahead on one split is not served.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from chronos_core.domain.evaluation import (
    BaselineChoice,
    Blend,
    CandidateVerdict,
    ServingChoice,
)
from chronos_core.ml.significance import diebold_mariano, window_losses

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

BLEND_GRID_STEPS = 20
BASELINES: tuple[BaselineChoice, ...] = ("seasonal_naive", "last_value")


@dataclass(frozen=True)
class SplitForecasts:
    """One split's ``(N, H)`` targets, observed mask and each candidate's forecasts."""

    y: FloatArray
    mask: BoolArray
    preds: dict[ServingChoice, FloatArray]

    @property
    def windows(self) -> int:
        return int(self.y.shape[0])

    def losses(self, name: ServingChoice) -> FloatArray:
        """Per-window MAE of ``name`` (NaN where a window has no observed target)."""
        return window_losses(self.y, self.preds[name], self.mask)

    def mae(self, name: ServingChoice) -> float | None:
        """MAE over the observed targets, ``None`` when there are none."""
        return _mae(self.y, self.preds[name], self.mask)


@dataclass(frozen=True)
class GateOutcome:
    """The gate's decision: what is served, why, and the evidence behind it."""

    serving: ServingChoice
    rule: str
    best_baseline: BaselineChoice
    blend: Blend | None
    #: The blend's cross-fitted validation forecasts (what its validation scores are computed
    #: on), ``None`` when no blend was fitted.
    blend_validation_pred: FloatArray | None
    evidence: list[CandidateVerdict]


def _mae(y: FloatArray, pred: FloatArray, mask: BoolArray) -> float | None:
    keep = mask & np.isfinite(y) & np.isfinite(pred)
    return float(np.mean(np.abs(y - pred)[keep])) if np.any(keep) else None


def _inf(value: float | None) -> float:
    return float("inf") if value is None else value


def best_baseline(validation: SplitForecasts, backtest: SplitForecasts | None) -> BaselineChoice:
    """The baseline with the lower MAE over validation and backtest windows together (a tie goes
    to the last value)."""
    splits = [validation] if backtest is None or backtest.windows == 0 else [validation, backtest]

    def pooled(name: BaselineChoice) -> float:
        y = np.concatenate([s.y for s in splits])
        pred = np.concatenate([s.preds[name] for s in splits])
        mask = np.concatenate([s.mask for s in splits])
        return _inf(_mae(y, pred, mask))

    return "seasonal_naive" if pooled("seasonal_naive") < pooled("last_value") else "last_value"


def fit_blend_weight(y: FloatArray, network: FloatArray, baseline: FloatArray, mask: BoolArray) -> float:
    """The network weight in ``{0, 1/20, ..., 1}`` minimising the MAE of the blend (ties: the
    smaller weight, closer to the baseline). 0 when nothing is observed."""
    weights = np.linspace(0.0, 1.0, BLEND_GRID_STEPS + 1)
    scores = [_inf(_mae(y, w * network + (1.0 - w) * baseline, mask)) for w in weights]
    return float(weights[int(np.argmin(scores))])


def cross_fitted_blend(
    y: FloatArray, network: FloatArray, baseline: FloatArray, mask: BoolArray
) -> FloatArray:
    """``(N, H)`` blend forecasts where the first half of the windows uses the weight fitted on the
    second half and the other way round (fewer than two windows: the weight fitted on all)."""
    n = y.shape[0]
    if n < 2:
        w = fit_blend_weight(y, network, baseline, mask)
        return w * network + (1.0 - w) * baseline
    half = n // 2
    first, second = slice(0, half), slice(half, n)
    w_first = fit_blend_weight(y[second], network[second], baseline[second], mask[second])
    w_second = fit_blend_weight(y[first], network[first], baseline[first], mask[first])
    out = np.empty_like(network)
    out[first] = w_first * network[first] + (1.0 - w_first) * baseline[first]
    out[second] = w_second * network[second] + (1.0 - w_second) * baseline[second]
    return out


def _verdict(
    name: ServingChoice,
    base: BaselineChoice,
    validation: SplitForecasts,
    backtest: SplitForecasts | None,
    horizon: int,
    margin: float,
    alpha: float,
) -> CandidateVerdict:
    """The evidence for ``name`` against ``base`` and whether it passes (see the module rule)."""
    factor = 1.0 - margin
    val_c, val_b = validation.mae(name), validation.mae(base)
    test = diebold_mariano(validation.losses(name), validation.losses(base), horizon, margin)
    has_backtest = backtest is not None and backtest.windows > 0
    bt_c = backtest.mae(name) if has_backtest and backtest is not None else None
    bt_b = backtest.mae(base) if has_backtest and backtest is not None else None
    failures: list[str] = []
    if not _inf(val_c) < factor * _inf(val_b):
        failures.append(
            f"validation MAE {_inf(val_c):.6g} is not below {factor:g} x {base} {_inf(val_b):.6g}"
        )
    if test.p_value is None or not test.p_value < alpha:
        p = "undefined" if test.p_value is None else f"{test.p_value:.3g}"
        failures.append(f"not significant on {test.windows} windows (p {p} >= {alpha:g})")
    if has_backtest and not _inf(bt_c) < factor * _inf(bt_b):
        failures.append(f"backtest MAE {_inf(bt_c):.6g} is not below {factor:g} x {base} {_inf(bt_b):.6g}")
    reason = (
        "; ".join(failures)
        if failures
        else (
            f"validation MAE {_inf(val_c):.6g} < {factor:g} x {base} {_inf(val_b):.6g}, "
            f"p {_inf(test.p_value):.3g} < {alpha:g}"
            + (
                f", backtest MAE {_inf(bt_c):.6g} < {factor:g} x {_inf(bt_b):.6g}"
                if has_backtest
                else ", no backtest window"
            )
        )
    )
    return CandidateVerdict(
        candidate=name,
        reference=base,
        validation_mae=val_c,
        reference_validation_mae=val_b,
        backtest_mae=bt_c,
        reference_backtest_mae=bt_b,
        test=test,
        passes=not failures,
        reason=reason,
    )


def _with_blend(split: SplitForecasts, pred: FloatArray) -> SplitForecasts:
    return SplitForecasts(split.y, split.mask, {**split.preds, "blend": pred})


def decide(
    validation: SplitForecasts,
    backtest: SplitForecasts | None,
    *,
    horizon: int,
    margin: float = 0.0,
    alpha: float = 0.05,
) -> GateOutcome:
    """Apply the gate (module docstring) to ``network``, ``seasonal_naive`` and ``last_value``
    forecasts of both splits; the blend is fitted here."""
    base = best_baseline(validation, backtest)
    network, baseline = validation.preds["network"], validation.preds[base]
    weight = fit_blend_weight(validation.y, network, baseline, validation.mask)
    challengers: list[ServingChoice] = ["network"]
    blend: Blend | None = None
    blend_pred: FloatArray | None = None
    notes: list[str] = []
    if 0.0 < weight < 1.0:
        blend = Blend(baseline=base, network_weight=weight)
        blend_pred = cross_fitted_blend(validation.y, network, baseline, validation.mask)
        validation = _with_blend(validation, blend_pred)
        if backtest is not None:
            bt = weight * backtest.preds["network"] + (1.0 - weight) * backtest.preds[base]
            backtest = _with_blend(backtest, bt)
        challengers.append("blend")
    else:
        notes.append(f"no blend (fitted network weight {weight:g})")
    evidence = [_verdict(c, base, validation, backtest, horizon, margin, alpha) for c in challengers]
    passing = [v for v in evidence if v.passes]
    if passing:
        winner = min(passing, key=lambda v: _inf(v.validation_mae))
        serving: ServingChoice = winner.candidate
    else:
        serving = base
    parts = [f"{v.candidate}: {'passes' if v.passes else 'fails'} ({v.reason})" for v in evidence]
    rule = "; ".join(parts + notes) + f". {serving} served (best baseline {base})."
    return GateOutcome(
        serving=serving,
        rule=rule,
        best_baseline=base,
        blend=blend,
        blend_validation_pred=blend_pred,
        evidence=evidence,
    )
