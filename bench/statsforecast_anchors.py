"""The statistical anchors of ``bench_quality.py``: statsforecast's AutoETS and AutoTheta.

Runs in the benchmark's own virtualenv (``.local/bench-venv``, see ``local/bench_venv.sh``):
statsforecast 2.x needs pandas < 3 (plus fugue and pyarrow), which the project's virtualenv does
not have, so ``bench_quality.py`` calls this script as a subprocess instead of importing it.

Contract (one series per call): ``python statsforecast_anchors.py IN.npz OUT.npz``.

IN holds ``y`` (the whole series on the benchmark's grid, missing slots already interpolated),
``fit_end`` (the models are fitted once on ``y[:fit_end]``, everything before the first test
target), ``origins`` (slot indices ``j``; the forecast from origin ``j`` sees ``y[:j + 1]``),
``horizon``, ``season_ets``, ``season_theta`` and ``levels`` (percent, e.g. ``[80, 95]``).

Each model is **fitted once** (``fit`` on ``y[:fit_end]``) and then **applied to each origin's
context with ``forward``** (statsforecast's documented way to apply a fitted model to new data:
the fitted parameters and initial states are kept and the states are run through the new series;
nothing is re-estimated, although AutoTheta recomputes its seasonal decomposition on the context).
Prediction intervals are the models' own (``level=``).

OUT holds, for ``m`` in ``ets`` and ``theta``: ``{m}_mean``, ``{m}_lo{level}``, ``{m}_hi{level}``
(``(N, H)``, NaN where the model failed), ``{m}_model`` (the selected model, or the error),
``{m}_fit_s`` and ``{m}_forward_s``.
"""

from __future__ import annotations

import sys
import time
import warnings
from typing import Any

import numpy as np


def _model(kind: str, season: int) -> Any:
    from statsforecast.models import AutoETS, AutoTheta

    return AutoETS(season_length=season) if kind == "ets" else AutoTheta(season_length=season)


def _describe(kind: str, fitted: Any) -> str:
    model = fitted.model_
    if kind == "ets":
        return str(model.get("method", "ETS"))
    return f"Theta {model.get('modeltype', '?')}"


def run(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    y = np.asarray(data["y"], dtype=np.float64)
    fit_end = int(data["fit_end"])
    origins = np.asarray(data["origins"], dtype=np.int64)
    horizon = int(data["horizon"])
    levels = [int(v) for v in data["levels"]]
    season = int(data["season_ets"] if kind == "ets" else data["season_theta"])
    n = origins.size
    out: dict[str, Any] = {f"{kind}_mean": np.full((n, horizon), np.nan)}
    for level in levels:
        out[f"{kind}_lo{level}"] = np.full((n, horizon), np.nan)
        out[f"{kind}_hi{level}"] = np.full((n, horizon), np.nan)
    t0 = time.perf_counter()
    try:
        fitted = _model(kind, season).fit(y[:fit_end])
    except Exception as exc:  # a model that cannot be fitted is reported, not fatal
        out[f"{kind}_model"] = f"fit failed: {type(exc).__name__}: {exc}"
        out[f"{kind}_fit_s"] = time.perf_counter() - t0
        out[f"{kind}_forward_s"] = 0.0
        return out
    out[f"{kind}_fit_s"] = time.perf_counter() - t0
    out[f"{kind}_model"] = _describe(kind, fitted)
    t0 = time.perf_counter()
    failures = 0
    for i, j in enumerate(origins):
        try:
            forecast = fitted.forward(y[: j + 1], h=horizon, level=levels)
        except Exception:
            failures += 1
            continue
        out[f"{kind}_mean"][i] = forecast["mean"]
        for level in levels:
            out[f"{kind}_lo{level}"][i] = forecast[f"lo-{level}"]
            out[f"{kind}_hi{level}"][i] = forecast[f"hi-{level}"]
    out[f"{kind}_forward_s"] = time.perf_counter() - t0
    if failures:
        out[f"{kind}_model"] += f" ({failures} origins failed)"
    return out


def main() -> None:
    source, target = sys.argv[1], sys.argv[2]
    with np.load(source) as f:
        data = {key: f[key] for key in f.files}
    result: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kind in ("ets", "theta"):
            result.update(run(kind, data))
    np.savez(target, **result)


if __name__ == "__main__":
    main()
