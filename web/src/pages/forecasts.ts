/** Forecasts: the recent history, the latest forecast with its 80 %/95 % bands, past published
 * forecasts overlaid on the actuals that arrived later (gaps stay gaps), the share of actuals
 * inside each band, and the recurring-forecast switch. */
import type { App, Job, Model } from "../app";
import { forecastChart } from "../chart";
import {
  alignSeries,
  coverage,
  fromApi,
  fromPublished,
  type ActualPoint,
  type ForecastApiPoint,
  type PublishedBatch,
} from "../forecast-math";
import { age, el, errorPanel, fmt, replace, section } from "../ui";

interface Prediction {
  serving: string;
  quality: { status: string; interpolated_points: number; reason: string | null };
  context: ActualPoint[];
  forecast: ForecastApiPoint[];
  interval_seconds: number;
  last_observation: string;
  generated_at: string;
}

export function forecastsPage(app: App, modelId: string, jobId: string): HTMLElement {
  const base = `/models/${modelId}/training-jobs/${jobId}`;
  const page = el("div", { class: "page", "data-page": "forecasts" });
  const render = () =>
    replace(
      page,
      el("h1", {}, "Forecasts"),
      section(null, async (body) => {
        const [model, job] = await Promise.all([app.api.get<Model>(`/models/${modelId}`), app.api.get<Job>(base)]);
        const [prediction, history] = await Promise.all([
          app.api.post<Prediction>(`${base}/predict`), // publishes nothing; as a POST it is never auto-retried
          app.api.get<{ items: PublishedBatch[] }>(`${base}/predictions/history`, { query: { limit: 50 } }).catch(() => ({ items: [] })),
        ]);
        const latest = fromApi(prediction.forecast);
        const past = fromPublished(history.items);
        const series = alignSeries(prediction.context, latest, past, prediction.interval_seconds, prediction.last_observation);
        const share = coverage(prediction.context, past, prediction.interval_seconds, prediction.last_observation);
        const chartBox = el("div", { class: "chart", id: "forecast-chart" });
        const toggle = recurringToggle(app, base, job, render);
        replace(
          body,
          el("p", {}, el("a", { href: `models/${modelId}`, "data-link": true }, model.name), ` · ${model.entity_id} · ${model.feature}`),
          el(
            "p",
            { class: "forecast-summary" },
            `Serving ${prediction.serving}; ${prediction.forecast.length} steps after ${new Date(prediction.last_observation).toISOString()} (newest data point ${age(prediction.last_observation)}). `,
            el("span", { class: `badge quality-${prediction.quality.status}` }, `quality ${prediction.quality.status}`),
            prediction.quality.reason ? ` ${prediction.quality.reason}` : "",
          ),
          chartBox,
          el(
            "p",
            { class: "coverage", "data-compared": share.compared },
            share.compared
              ? `Past forecasts against what arrived later: ${share.compared} points compared; inside the 80 % band ${fmt((share.inside["80"] ?? 0) * 100, 3)} %, inside the 95 % band ${fmt((share.inside["95"] ?? 0) * 100, 3)} %.`
              : `No published forecast overlaps the actuals yet (${history.items.length} published).`,
          ),
          toggle,
          forecastTable(prediction),
        );
        forecastChart(chartBox, series, Math.min(960, Math.max(480, body.clientWidth || 900)));
      }),
    );
  render();
  return page;
}

function recurringToggle(app: App, base: string, job: Job, rerender: () => void): HTMLElement {
  const enabled = job.prediction_config?.enabled ?? false;
  const status = el("span", { class: "muted" }, enabled ? ` Next forecast ${job.next_prediction_at ?? "soon"}.` : " Off.");
  const button = el("button", { id: "toggle-recurring" }, enabled ? "Disable recurring forecasts" : "Enable recurring forecasts");
  const error = el("div");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await app.api.post(`${base}/prediction-toggle`, { enabled: !enabled });
      rerender();
    } catch (e) {
      replace(error, errorPanel(e));
      button.disabled = false;
    }
  });
  return el("div", { class: "recurring" }, el("strong", {}, "Recurring forecasts: "), button, status, error);
}

function forecastTable(prediction: Prediction): HTMLElement {
  return el(
    "details",
    { class: "forecast-data" },
    el("summary", {}, "Forecast values"),
    el(
      "table",
      {},
      el("thead", {}, el("tr", {}, ...["Step", "Target", "Value", "80 % interval", "95 % interval"].map((h) => el("th", {}, h)))),
      el(
        "tbody",
        {},
        ...prediction.forecast.map((p) =>
          el(
            "tr",
            { "data-step": p.step },
            el("td", {}, p.step),
            el("td", {}, p.target_timestamp),
            el("td", {}, fmt(p.value, 4)),
            el("td", {}, `${fmt(p.lower["80"], 4)} – ${fmt(p.upper["80"], 4)}`),
            el("td", {}, `${fmt(p.lower["95"], 4)} – ${fmt(p.upper["95"], 4)}`),
          ),
        ),
      ),
    ),
  );
}
