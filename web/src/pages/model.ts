/** Model: configuration, training runs with a live progress bar, metrics next to the baselines,
 * the promotion gate's decision; start, cancel, retry and delete with confirmations. */
import type uPlot from "uplot";
import { NetworkError } from "../api";
import { FINISHED, type App, type Job, type Model, type Page } from "../app";
import { lossChart } from "../chart";
import { lossColumns } from "../loss-curve";
import { SKILL_DEFINITION, actionButton, age, confirmAction, el, errorPanel, fmt, replace, section, skillPercent } from "../ui";

export function progressText(job: Job, now = Date.now()): { percent: number; lines: string[]; eta: string | null } {
  const p = job.progress;
  const percent = Math.max(0, Math.min(100, p.percent ?? 0));
  const lines = [
    `phase ${job.phase ?? job.status}${p.training_phase ? ` (${p.training_phase})` : ""}`,
    `chunks ${p.chunks_done}/${p.chunks_total}`,
    `points ${p.points_collected}/${p.points_expected}`,
    `epoch ${p.epoch}/${p.epochs}`,
    `loss ${fmt(p.loss)} · val ${fmt(p.val_loss)}`,
  ];
  let eta: string | null = null;
  if (job.started_at && percent > 0 && percent < 100) {
    const elapsed = (now - Date.parse(job.started_at)) / 1000;
    eta = `${Math.max(0, Math.round((elapsed * (100 - percent)) / percent))} s left`;
  }
  return { percent, lines, eta };
}

function progressBar(job: Job): HTMLElement {
  const { percent, lines, eta } = progressText(job);
  return el(
    "div",
    { class: "progress", "data-status": job.status, "data-job": job.id },
    el("div", { class: "bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": Math.round(percent) }, el("div", { class: "fill", style: `width:${percent}%` })),
    el("div", { class: "progress-text" }, `${job.status} · ${Math.round(percent)} %`, eta ? ` · ${eta}` : "", el("br"), lines.join(" · ")),
  );
}

function metricsTable(job: Job): HTMLElement | null {
  const m = job.metrics;
  if (!m) return null;
  const row = (label: string, scores: Record<string, number | null> | null | undefined) =>
    scores ? el("tr", {}, el("td", {}, label), ...["mae", "rmse", "mase", "smape"].map((k) => el("td", {}, fmt(scores[k])))) : null;
  return el(
    "div",
    {},
    el(
      "table",
      { class: "metrics" },
      el("thead", {}, el("tr", {}, el("th", {}, "Test split"), el("th", {}, "MAE"), el("th", {}, "RMSE"), el("th", {}, "MASE"), el("th", {}, "sMAPE"))),
      el("tbody", {}, row("network", m.test), row(`served (${job.serving ?? "?"})`, m.served), row("seasonal naive", m.baselines.seasonal_naive), row("last value", m.baselines.last_value)),
    ),
    el(
      "p",
      {},
      `Season ${m.baselines.season_length} steps; skill vs seasonal naive ${skillPercent(m.baselines.skill_vs_seasonal_naive)} (${SKILL_DEFINITION}). `,
      job.selection ? `Promotion gate: serves ${job.selection.serving}${job.selection.rule ? ` (${job.selection.rule})` : ""}.` : "",
      m.test_coverage ? ` Interval coverage on test: 80 % → ${fmt(m.test_coverage["80"], 2)}, 95 % → ${fmt(m.test_coverage["95"], 2)}.` : "",
    ),
  );
}

function jobCard(app: App, model: Model, job: Job, refresh: () => void): HTMLElement {
  const base = `/models/${model.id}/training-jobs/${job.id}`;
  const act = (label: string, confirmText: string, run: () => Promise<unknown>) =>
    actionButton(label, confirmText, run, refresh);
  const running = !FINISHED.has(job.status);
  const phases = Object.entries(job.phases ?? {})
    .filter(([, t]) => t.seconds != null)
    .map(([name, t]) => `${name} ${t.seconds!.toFixed(1)} s`)
    .join(", ");
  return el(
    "div",
    { class: "job", "data-job": job.id },
    el("h3", {}, `Training ${job.id.slice(0, 8)} `, el("span", { class: `badge status-${job.status}` }, job.status), ` started ${age(job.started_at ?? job.created_at)}`),
    progressBar(job),
    el("div", { class: "loss-curve" }),
    phases ? el("p", { class: "muted" }, `Phase timings: ${phases}`) : null,
    job.error ? el("div", { class: "error" }, `${job.error.error} in ${job.error.phase ?? "?"}: ${job.error.cause}`) : null,
    metricsTable(job),
    el(
      "div",
      { class: "actions" },
      running ? act("Cancel", "Cancel this training?", () => app.api.post(`${base}/cancel`)) : null,
      job.status === "failed" ? act("Retry", "Retry this training from its checkpoints?", () => app.api.post(`${base}/retry`)) : null,
      job.status === "completed" ? el("a", { class: "button", href: `models/${model.id}/jobs/${job.id}/forecasts`, "data-link": true }, "Forecasts") : null,
      !running ? act("Delete", "Delete this training with its artifacts and published forecasts?", () => app.api.delete(base)) : null,
    ),
  );
}

/** Draw the job's loss curves into its card, reusing (and updating) the chart drawn for it
 * before, so that a polled card keeps one chart rather than stacking new ones. */
function attachLossCurve(card: HTMLElement, job: Job, charts: Map<string, { holder: HTMLElement; chart: uPlot }>): void {
  const slot = card.querySelector<HTMLElement>(".loss-curve");
  if (!slot || !job.history?.length) return;
  const drawn = charts.get(job.id);
  if (drawn) {
    drawn.chart.setData(lossColumns(job.history));
    slot.replaceWith(drawn.holder);
    return;
  }
  charts.set(job.id, { holder: slot, chart: lossChart(slot, job.history) });
}

export function modelPage(app: App, id: string): HTMLElement {
  const page = el("div", { class: "page", "data-page": "model" });
  const charts = new Map<string, { holder: HTMLElement; chart: uPlot }>();
  const render = () => {
    for (const { chart } of charts.values()) {
      chart.destroy();
      window.chronosCharts = (window.chronosCharts ?? []).filter((c) => c !== chart);
    }
    charts.clear();
    replace(
      page,
      section(null, async (body) => {
        const [model, jobs] = await Promise.all([
          app.api.get<Model>(`/models/${id}`),
          app.api.get<Page<Job>>(`/models/${id}/training-jobs`, { query: { limit: 10 } }),
        ]);
        // The list carries no epoch history: read the newest job itself for its loss curves.
        const newest = jobs.items[0];
        if (newest) jobs.items[0] = await app.api.get<Job>(`/models/${id}/training-jobs/${newest.id}`).catch(() => newest);
        const start = el("button", { id: "start-training" }, "Start training");
        const startError = el("div");
        start.addEventListener("click", async () => {
          start.disabled = true;
          try {
            await app.api.post(`/models/${id}/training-jobs`, {});
            render();
          } catch (error) {
            replace(startError, errorPanel(error));
            start.disabled = false;
          }
        });
        const remove = el("button", { class: "danger", id: "delete-model" }, "Delete model");
        remove.addEventListener("click", async () => {
          if (!confirmAction(`Delete ${model.name} with its trainings, artifacts and FIWARE resources?`)) return;
          try {
            await app.api.delete(`/models/${id}`);
            app.router.go("");
          } catch (error) {
            replace(startError, errorPanel(error));
          }
        });
        const jobList = el("div", { class: "jobs" }, ...jobs.items.map((job) => jobCard(app, model, job, render)));
        replace(
          body,
          el("h1", {}, model.name, " ", el("span", { class: `badge status-${model.status}` }, model.status)),
          el(
            "dl",
            { class: "config" },
            ...[
              ["Series", `${model.entity_type} ${model.entity_id} · ${model.feature}`],
              ["Tenant", `${model.fiware_service} ${model.fiware_servicepath}`],
              ["Network", `${model.model_type.toUpperCase()} ${model.rnn_layers.map((l) => l.units).join("/")} units`],
              ["Window", `lookback ${model.lookback_window}, horizon ${model.forecast_horizon}`],
              ["Training", `${model.epochs} epochs, batch ${model.batch_size}, lr ${model.learning_rate}`],
              ["Grid", model.sampling_interval ?? "detected"],
              ["Serves", model.serving?.serving ?? "—"],
            ].flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]),
          ),
          el("div", { class: "actions" }, start, remove),
          startError,
          el("h2", {}, "Trainings"),
          jobs.items.length ? jobList : el("p", {}, "No training yet."),
        );
        for (const job of jobs.items) attachLossCurve(jobList.querySelector(`[data-job="${job.id}"]`) as HTMLElement, job, charts);
        // Poll the running trainings while they run; stop when each ends.
        for (const job of jobs.items.filter((j) => !FINISHED.has(j.status))) {
          let card = jobList.querySelector(`[data-job="${job.id}"]`) as HTMLElement;
          app.poll(async () => {
            try {
              const fresh = await app.api.get<Job>(`/models/${id}/training-jobs/${job.id}`);
              const next = jobCard(app, model, fresh, render);
              card.replaceWith(next);
              card = next;
              attachLossCurve(card, fresh, charts);
              if (FINISHED.has(fresh.status)) {
                render(); // the model's status and serving changed too
                return false;
              }
            } catch (error) {
              card.querySelector(".stale")?.remove();
              card.prepend(el("div", { class: "stale error offline" }, error instanceof NetworkError ? "Connection lost: this progress is not live. Reconnecting…" : `Progress is not updating: ${(error as Error).message}`));
            }
            return true;
          }, 1500);
        }
      }),
    );
  };
  render();
  return page;
}
