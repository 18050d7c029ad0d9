"""The promotion gate needs evidence: a Diebold-Mariano test over windows, validation plus a
backtest, the margin kept, and data-size regularisation of the network. No TensorFlow."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chronos_core.ml.config import RnnLayerConfig, TrainingConfig
from chronos_core.ml.fitting import parameter_count, regularize_for_data_size
from chronos_core.ml.gate import SplitForecasts, best_baseline, decide
from chronos_core.ml.significance import (
    diebold_mariano,
    newey_west_lag,
    student_t_sf,
    window_losses,
)

H = 6


def _split(
    n: int,
    base_scale: float,
    net_scale: float,
    seed: int,
    *,
    sn_scale: float | None = None,
    correlation: float = 0.0,
) -> SplitForecasts:
    """``n`` overlapping H-step windows of one series; each forecaster's error is attached to the
    target time (so overlapping windows share errors, as in a real rolling evaluation). The
    network's errors have ``correlation`` with the last value's (a residual network's do)."""
    rng = np.random.default_rng(seed)
    t = n + H
    truth = np.cumsum(rng.standard_normal(t))
    idx = np.arange(n)[:, None] + np.arange(H)[None, :]
    common = rng.standard_normal(t)
    err_lv = base_scale * common
    own = math.sqrt(1.0 - correlation**2) * rng.standard_normal(t)
    err_net = net_scale * (correlation * common + own)
    err_sn = (sn_scale if sn_scale is not None else 3.0 * base_scale) * rng.standard_normal(t)
    y = truth[idx]
    return SplitForecasts(
        y=y,
        mask=np.ones(y.shape, np.bool_),
        preds={
            "last_value": y + err_lv[idx],
            "network": y + err_net[idx],
            "seasonal_naive": y + err_sn[idx],
        },
    )


def _rescale_network(split: SplitForecasts, ratio: float) -> SplitForecasts:
    """The same split with the network's errors scaled so its MAE is exactly ``ratio`` x the last
    value's."""
    net_err = split.preds["network"] - split.y
    base_mae = float(np.mean(np.abs(split.preds["last_value"] - split.y)))
    net_err *= ratio * base_mae / float(np.mean(np.abs(net_err)))
    return SplitForecasts(split.y, split.mask, {**split.preds, "network": split.y + net_err})


# ------------------------------------------------------------------------------- the test


def test_diebold_mariano_matches_a_hand_computation() -> None:
    cand = np.array([1.0, 2.0, 1.5, 0.5, 1.0])
    ref = np.array([2.0, 2.5, 1.0, 1.5, 2.0])
    result = diebold_mariano(cand, ref, horizon=2)
    # d = ref - cand = [1, .5, -.5, 1, 1]; mean .6; centred [.4, -.1, -1.1, .4, .4]
    g0 = (0.16 + 0.01 + 1.21 + 0.16 + 0.16) / 5
    g1 = (0.4 * -0.1 + -0.1 * -1.1 + -1.1 * 0.4 + 0.4 * 0.4) / 5
    g2 = (0.4 * -1.1 + -0.1 * 0.4 + -1.1 * 0.4) / 5
    assert result.lag == 2 == newey_west_lag(5, 2)  # the Newey-West rule exceeds H - 1 = 1 here
    variance = g0 + 2 * (2 / 3) * g1 + 2 * (1 / 3) * g2
    statistic = 0.6 / math.sqrt(variance / 5)
    assert result.windows == 5
    assert result.mean_differential == pytest.approx(0.6)
    assert result.statistic == pytest.approx(statistic) and statistic == pytest.approx(3.3402, abs=1e-4)
    assert result.p_value == pytest.approx(student_t_sf(statistic, 4))
    assert 0.01 < result.p_value < 0.02
    # the margin enters the differential: (1 - m) x ref - cand
    with_margin = diebold_mariano(cand, ref, horizon=2, margin=0.5)
    assert with_margin.mean_differential == pytest.approx(float(np.mean(0.5 * ref - cand)))
    assert with_margin.p_value is not None and with_margin.p_value > result.p_value


def test_student_t_tail_matches_tables() -> None:
    assert student_t_sf(2.776, 4) == pytest.approx(0.025, abs=2e-4)
    assert student_t_sf(1.812, 10) == pytest.approx(0.05, abs=2e-4)
    assert student_t_sf(0.0, 7) == pytest.approx(0.5)
    assert student_t_sf(-1.812, 10) == pytest.approx(0.95, abs=2e-4)
    assert student_t_sf(1.645, 100_000) == pytest.approx(0.05, abs=2e-4)  # the normal limit
    scipy_stats = pytest.importorskip("scipy.stats")
    for t in (-3.0, -0.5, 0.3, 1.0, 2.2, 6.0):
        for df in (1, 3, 12, 60):
            assert student_t_sf(t, df) == pytest.approx(float(scipy_stats.t.sf(t, df)), rel=1e-8, abs=1e-12)


def test_lag_covers_the_overlap_of_h_step_windows() -> None:
    assert newey_west_lag(1000, 24) == 23
    assert newey_west_lag(1000, 1) == math.floor(4 * 10 ** (2 / 9))
    assert newey_west_lag(3, 24) == 2  # below the number of windows
    assert diebold_mariano(np.array([1.0]), np.array([2.0]), 3).p_value is None


def test_window_losses_ignore_unobserved_steps() -> None:
    y = np.array([[1.0, 2.0], [3.0, 4.0]])
    pred = np.array([[2.0, 0.0], [3.0, 5.0]])
    mask = np.array([[True, False], [False, False]])
    losses = window_losses(y, pred, mask)
    assert losses[0] == 1.0 and np.isnan(losses[1])


# ------------------------------------------------------------------------------- the gate


def test_a_network_barely_ahead_on_validation_is_not_served() -> None:
    # The case: 1.8 % better than the last value on validation, margin 0. The old
    # point-estimate rule served it; on a few hundred overlapping windows it is noise.
    # On the backtest it is behind, and so is its blend with the last value.
    validation = _rescale_network(_split(400, 1.0, 1.0, seed=1, correlation=0.9), 0.982)
    backtest = _split(400, 1.0, 1.08, seed=2, correlation=0.9)
    assert validation.mae("network") < validation.mae("last_value")  # type: ignore[operator]
    outcome = decide(validation, backtest, horizon=H, margin=0.0)
    assert outcome.serving == "last_value"
    assert all(not v.passes for v in outcome.evidence)  # nor a blend of the two
    verdict = next(v for v in outcome.evidence if v.candidate == "network")
    assert verdict.test.p_value is not None and verdict.test.p_value >= 0.05
    assert verdict.test.windows == 400 and verdict.test.lag >= H - 1
    assert "not significant" in verdict.reason and "backtest MAE" in verdict.reason
    assert "last_value served" in outcome.rule


def test_a_network_barely_ahead_is_not_served_even_without_a_backtest_veto() -> None:
    validation = _rescale_network(_split(400, 1.0, 1.0, seed=1, correlation=0.9), 0.982)
    backtest = _split(400, 1.0, 0.95, seed=2, correlation=0.9)
    outcome = decide(validation, backtest, horizon=H, margin=0.0)
    verdict = next(v for v in outcome.evidence if v.candidate == "network")
    assert verdict.backtest_mae is not None and verdict.reference_backtest_mae is not None
    assert verdict.backtest_mae < verdict.reference_backtest_mae  # ahead on the backtest too
    assert not verdict.passes and outcome.serving != "network"
    # A blend may be served instead: averaging partly independent errors is a real, consistent
    # gain (significant here), which the network alone does not have.
    if outcome.serving == "blend":
        assert next(v for v in outcome.evidence if v.candidate == "blend").passes


def test_a_blend_is_served_when_network_and_baseline_err_independently() -> None:
    # Two equally good forecasters with independent errors: neither alone beats the other, their
    # average does, significantly (its error variance is half).
    validation = _rescale_network(_split(400, 1.0, 1.0, seed=1), 1.0)
    backtest = _split(400, 1.0, 1.0, seed=2)
    outcome = decide(validation, backtest, horizon=H)
    assert outcome.serving == "blend"
    assert outcome.blend is not None and outcome.blend.baseline == "last_value"
    assert 0.3 <= outcome.blend.network_weight <= 0.7
    blend = next(v for v in outcome.evidence if v.candidate == "blend")
    network = next(v for v in outcome.evidence if v.candidate == "network")
    assert blend.passes and not network.passes
    assert outcome.blend_validation_pred is not None  # cross-fitted forecasts, scored by the gate
    assert blend.validation_mae == pytest.approx(
        float(np.mean(np.abs(outcome.blend_validation_pred - validation.y)))
    )


def test_a_clearly_better_network_is_served() -> None:
    validation = _split(400, 1.0, 0.6, seed=3)
    backtest = _split(400, 1.0, 0.6, seed=4)
    outcome = decide(validation, backtest, horizon=H)
    verdict = next(v for v in outcome.evidence if v.candidate == "network")
    assert verdict.passes and verdict.test.p_value is not None and verdict.test.p_value < 1e-6
    assert outcome.serving in ("network", "blend")
    assert outcome.best_baseline == "last_value"


def test_a_network_that_loses_the_backtest_is_not_served() -> None:
    validation = _split(400, 1.0, 0.6, seed=5)
    backtest = _split(400, 1.0, 1.4, seed=6)  # worse than the baseline there, even in sample
    outcome = decide(validation, backtest, horizon=H)
    verdict = next(v for v in outcome.evidence if v.candidate == "network")
    assert verdict.test.p_value is not None and verdict.test.p_value < 0.05  # significant on validation
    assert not verdict.passes and "backtest MAE" in verdict.reason
    assert outcome.serving != "network"


def test_the_gate_margin_is_an_extra_relative_margin() -> None:
    validation = _split(600, 1.0, 0.85, seed=7)
    backtest = _split(600, 1.0, 0.85, seed=8)
    assert decide(validation, backtest, horizon=H, margin=0.0).serving in ("network", "blend")
    strict = decide(validation, backtest, horizon=H, margin=0.3)  # 15 % better is not 30 % better
    assert strict.serving == "last_value"
    assert all(not v.passes for v in strict.evidence)
    assert all(v.test.margin == 0.3 for v in strict.evidence)


def test_significance_level_one_turns_the_test_off() -> None:
    validation = _rescale_network(_split(400, 1.0, 1.0, seed=1, correlation=0.9), 0.982)
    backtest = _split(400, 1.0, 0.95, seed=2, correlation=0.9)
    assert decide(validation, backtest, horizon=H, alpha=1.0).serving in ("network", "blend")


def test_the_best_baseline_is_chosen_on_validation_and_backtest_together() -> None:
    # seasonal naive slightly better on validation, much worse on the backtest: last value.
    validation = _split(200, 1.0, 1.0, seed=9, sn_scale=0.95)
    backtest = _split(200, 1.0, 1.0, seed=10, sn_scale=2.0)
    assert validation.mae("seasonal_naive") < validation.mae("last_value")  # type: ignore[operator]
    assert best_baseline(validation, backtest) == "last_value"
    assert best_baseline(validation, None) == "seasonal_naive"
    tie = SplitForecasts(
        validation.y, validation.mask, {**validation.preds, "seasonal_naive": validation.preds["last_value"]}
    )
    assert best_baseline(tie, None) == "last_value"  # a tie goes to the simpler one


def test_without_a_backtest_window_the_rule_uses_validation_alone() -> None:
    validation = _split(300, 1.0, 0.6, seed=12)
    empty = SplitForecasts(
        np.empty((0, H)), np.empty((0, H), np.bool_), {k: np.empty((0, H)) for k in validation.preds}
    )
    outcome = decide(validation, empty, horizon=H)
    verdict = next(v for v in outcome.evidence if v.candidate == "network")
    assert verdict.passes and verdict.backtest_mae is None and "no backtest window" in verdict.reason


# ------------------------------------------------------------------------------- data size


def test_parameter_count_matches_the_architecture() -> None:
    config = TrainingConfig()  # one LSTM(64), H = 1
    assert parameter_count(config) == 4 * (64 + 64 * 64 + 64) + 64 + 1
    gru = TrainingConfig(model_type="gru", rnn_layers=[RnnLayerConfig(units=8)], forecast_horizon=3)
    assert parameter_count(gru) == 3 * (8 + 64 + 16) + 8 * 3 + 3


def test_a_small_training_set_gets_a_narrower_regularised_network() -> None:
    config = TrainingConfig(forecast_horizon=12)  # LSTM(64), dropout 0.1
    fitted, rule = regularize_for_data_size(config, train_windows=150)
    assert rule.applied and rule.parameter_budget == 1500
    assert parameter_count(fitted) <= 1500 < parameter_count(config)
    assert fitted.rnn_layers[0].units < 64 and fitted.rnn_layers[0].dropout >= 0.2
    assert rule.weight_decay is not None and rule.weight_decay > 0
    assert rule.rnn_units == [fitted.rnn_layers[0].units]
    # everything else is untouched
    assert fitted.model_copy(update={"rnn_layers": config.rnn_layers}) == config


def test_a_large_training_set_fits_the_configuration_as_given() -> None:
    config = TrainingConfig(forecast_horizon=12)
    fitted, rule = regularize_for_data_size(config, train_windows=20_000)
    assert fitted == config and not rule.applied and rule.weight_decay is None
