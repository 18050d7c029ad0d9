/** Overview: every model with its status, what it serves and its skill, the newest STH point
 * (with a stale-data badge), and running trainings. */
import { FINISHED, type App, type Job, type Model, type Page } from "../app";
import { type DataFreshness, freshnessView } from "../freshness";
import { SKILL_DEFINITION, age, el, replace, section, skillPercent } from "../ui";

export function overviewPage(app: App): HTMLElement {
  return el(
    "div",
    { class: "page", "data-page": "overview" },
    el("h1", {}, "Overview"),
    section("Models", async (body) => {
      const models = await app.api.get<Page<Model>>("/models/", { query: { limit: 50 } });
      if (!models.items.length) {
        replace(body, el("p", {}, "No model yet. ", el("a", { href: "devices", "data-link": true }, "Discover devices"), " to create one."));
        return;
      }
      const [latest, freshness] = await Promise.all([
        Promise.all(
          models.items.map((m) =>
            app.api
              .get<Page<Job>>(`/models/${m.id}/training-jobs`, { query: { limit: 1 } })
              .then((p) => p.items[0] ?? null)
              .catch(() => null),
          ),
        ),
        // The newest STH point per model; a failed read shows as "—", not as a failed page.
        Promise.all(
          models.items.map((m) => app.api.get<DataFreshness>(`/models/${m.id}/data-freshness`).catch(() => null)),
        ),
      ]);
      const rows = models.items.map((m, i) => {
        const job = latest[i];
        const data = freshnessView(freshness[i]);
        const skill = job?.metrics?.baselines?.skill_vs_seasonal_naive;
        const running = job && !FINISHED.has(job.status);
        return el(
          "tr",
          { "data-model": m.id },
          el("td", {}, el("a", { href: `models/${m.id}`, "data-link": true }, m.name)),
          el("td", {}, m.model_type.toUpperCase()),
          el("td", {}, el("span", { class: `badge status-${m.status}` }, m.status)),
          el("td", {}, `${m.entity_id} · ${m.feature}`),
          el("td", {}, m.serving?.serving ?? "—"),
          el("td", { title: SKILL_DEFINITION }, skillPercent(skill)),
          el("td", {}, job?.last_forecast?.finished_at ? age(job.last_forecast.finished_at) : "—"),
          el(
            "td",
            { class: "data-freshness", title: data.title },
            data.text,
            data.stale ? el("span", { class: "badge stale-data" }, "stale") : null,
          ),
          el("td", {}, running ? el("span", { class: "badge running" }, `${job.status} ${Math.round(job.progress.percent)} %`) : "—"),
        );
      });
      replace(
        body,
        el(
          "table",
          { class: "models" },
          el("thead", {}, el("tr", {}, ...["Model", "Type", "Status", "Series", "Serves", "Skill vs seasonal naive", "Last forecast", "Newest data", "Training"].map((h) => el("th", {}, h)))),
          el("tbody", {}, ...rows),
        ),
        el("p", { class: "muted" }, `${models.total} model(s). A positive skill beats the seasonal-naive baseline.`),
      );
    }),
  );
}
