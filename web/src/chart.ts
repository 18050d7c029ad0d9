/** The forecast chart: uPlot, with 80 %/95 % bands filled between their bounds and gaps left open. */
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { ChartSeries } from "./forecast-math";
import { type EpochRecord, lossColumns } from "./loss-curve";

declare global {
  interface Window {
    /** The charts on the page (the browser tests read their rendered data through it). */
    chronosCharts?: uPlot[];
  }
}

const BLUE = "#1f6feb";
const ORANGE = "#d9480f";
const GREY = "#6e7781";

export function forecastChart(target: HTMLElement, data: ChartSeries, width = 900, height = 340): uPlot {
  const line = (label: string, stroke: string, extra: Partial<uPlot.Series> = {}): uPlot.Series => ({
    label,
    stroke,
    width: 1.5,
    spanGaps: false, // a gap in the data stays a gap
    points: { show: false },
    ...extra,
  });
  const bound = (label: string, stroke: string): uPlot.Series => line(label, stroke, { width: 0.5, dash: [4, 4] });
  const options: uPlot.Options = {
    width,
    height,
    scales: { x: { time: true } },
    legend: { live: true },
    series: [
      {},
      line("actual", "#1d2733", { width: 1.25 }),
      line("forecast", BLUE, { width: 2 }),
      bound("upper 95 %", "rgba(31,111,235,0.5)"),
      bound("lower 95 %", "rgba(31,111,235,0.5)"),
      bound("upper 80 %", "rgba(31,111,235,0.8)"),
      bound("lower 80 %", "rgba(31,111,235,0.8)"),
      line("past forecasts", ORANGE, { width: 1.25, dash: [6, 3] }),
      bound("past upper 80 %", "rgba(217,72,15,0.5)"),
      bound("past lower 80 %", "rgba(217,72,15,0.5)"),
    ],
    bands: [
      { series: [3, 4], fill: "rgba(31,111,235,0.12)" },
      { series: [5, 6], fill: "rgba(31,111,235,0.25)" },
      { series: [8, 9], fill: "rgba(217,72,15,0.10)" },
    ],
    axes: [{ stroke: GREY }, { stroke: GREY, size: 72 }], // room for values in the thousands
  };
  const columns: uPlot.AlignedData = [
    data.x,
    data.actual,
    data.forecast,
    data.upper95,
    data.lower95,
    data.upper80,
    data.lower80,
    data.past,
    data.pastUpper80,
    data.pastLower80,
  ];
  const chart = new uPlot(options, columns, target);
  (window.chronosCharts ??= []).push(chart);
  return chart;
}

/** The training's loss and validation loss per epoch (log scale: MSE falls by decades). Update it
 * in place with `chart.setData(lossColumns(history))` while the training runs. */
export function lossChart(target: HTMLElement, history: EpochRecord[], width = 520, height = 200): uPlot {
  const line = (label: string, stroke: string): uPlot.Series => ({ label, stroke, width: 1.5, spanGaps: false, points: { show: false } });
  const options: uPlot.Options = {
    width,
    height,
    scales: { x: { time: false }, y: { distr: 3 } },
    series: [{ label: "epoch" }, line("loss", BLUE), line("val loss", ORANGE)],
    axes: [{ stroke: GREY, label: "epoch" }, { stroke: GREY, size: 64 }],
  };
  const chart = new uPlot(options, lossColumns(history), target);
  (window.chronosCharts ??= []).push(chart);
  return chart;
}

export function disposeCharts(): void {
  for (const chart of window.chronosCharts ?? []) chart.destroy();
  window.chronosCharts = [];
}
