"""A terminal chart of a forecast: the recent context, the forecast, its 80 % and 95 % bands.

The x axis counts grid steps from the last observation (context ≤ 0, forecast 1..H), so the
chart reads the same for minutes and months; the title says what one step is.
"""

from __future__ import annotations

from typing import Any

import plotext as plt


def _step_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def forecast_chart(
    prediction: dict[str, Any],
    *,
    width: int = 100,
    height: int = 25,
    context_points: int = 96,
    color: bool = True,
) -> str:
    """The chart as text (ANSI colours only when ``color``)."""
    context = [p for p in prediction.get("context") or [] if p.get("value") is not None][-context_points:]
    forecast = prediction.get("forecast") or []
    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("pro" if color else "clear")
    if context:
        xs = list(range(-len(context) + 1, 1))
        plt.plot(xs, [float(p["value"]) for p in context], label="context", marker="braille")
    steps = [int(p["step"]) for p in forecast]
    for level, marker in (("95", "dot"), ("80", "braille")):
        lower = [p.get("lower", {}).get(level) for p in forecast]
        upper = [p.get("upper", {}).get(level) for p in forecast]
        if forecast and all(v is not None for v in lower + upper):
            plt.plot(steps, [float(v) for v in lower], label=f"{level} % band", marker=marker)
            plt.plot(steps, [float(v) for v in upper], marker=marker)
    if forecast:
        plt.plot(steps, [float(p["value"]) for p in forecast], label="forecast", marker="hd")
    step = _step_text(float(prediction.get("interval_seconds") or 0.0))
    quality = (prediction.get("quality") or {}).get("status", "?")
    plt.title(f"{prediction.get('serving', 'forecast')} forecast, quality {quality}")
    plt.xlabel(
        f"grid steps from the last observation ({prediction.get('last_observation', '?')}; 1 step = {step})"
    )
    text = str(plt.build())
    plt.clear_figure()
    return text if color else str(plt.uncolorize(text))
