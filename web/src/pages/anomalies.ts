/** Anomaly scans: pick a model, see its scans with status and live progress (polled while one
 * runs, no longer once all have ended), start, cancel and retry them; a scan's events table.
 * Routes: `anomalies`, `anomalies?model=ID`, `anomalies?model=ID&scan=SCAN[&skip=N]`. */
import { NetworkError } from "../api";
import type { App, Model, Page } from "../app";
import { anomalyCount, anyRunning, pageLinks, scanProgressText, scanRunning, type AnomalyEvent, type Scan } from "../scan-view";
import { actionButton, age, el, errorPanel, fmt, replace, section } from "../ui";

const POLL_MS = 1500;
const EVENTS_PER_PAGE = 50;

const scansPath = (model: string, scan?: string) => `/models/${model}/anomaly-scans${scan ? `/${scan}` : ""}`;
const scanHref = (model: string, scan?: string, skip?: number) =>
  `anomalies?model=${encodeURIComponent(model)}${scan ? `&scan=${encodeURIComponent(scan)}` : ""}${skip ? `&skip=${skip}` : ""}`;

function progressBar(scan: Scan): HTMLElement {
  const { percent, line, eta } = scanProgressText(scan);
  return el(
    "div",
    { class: "progress", "data-status": scan.status === "completed_with_failures" ? "completed" : scan.status, "data-scan": scan.id },
    el("div", { class: "bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": Math.round(percent) }, el("div", { class: "fill", style: `width:${percent}%` })),
    el("div", { class: "progress-text" }, `${scan.status} · ${Math.round(percent)} %`, eta ? ` · ${eta}` : "", el("br"), line),
  );
}

function scanCard(app: App, scan: Scan, refresh: () => void, withEventsLink = true): HTMLElement {
  const base = scansPath(scan.model_id, scan.id);
  const act = (label: string, confirmText: string, run: () => Promise<unknown>) =>
    actionButton(label, confirmText, run, refresh);
  const running = scanRunning(scan);
  const span = scan.request.last_n != null ? `last ${scan.request.last_n.toLocaleString("en")} points` : `${scan.request.date_from ?? "?"} → ${scan.request.date_to ?? "admission"}`;
  const phases = Object.entries(scan.phases ?? {})
    .filter(([, t]) => t.seconds != null)
    .map(([name, t]) => `${name} ${t.seconds!.toFixed(1)} s`)
    .join(", ");
  return el(
    "div",
    { class: "job scan", "data-scan": scan.id },
    el("h3", {}, `Scan ${scan.id.slice(0, 8)} `, el("span", { class: `badge status-${scan.status}` }, scan.status), ` started ${age(scan.started_at ?? scan.created_at)}`),
    el("p", { class: "muted" }, `${span} · FDR ${scan.settings.false_discovery_rate} · job ${scan.job_id.slice(0, 8)}`),
    progressBar(scan),
    phases ? el("p", { class: "muted" }, `Phase timings: ${phases}`) : null,
    scan.failed_chunks.length ? el("div", { class: "error" }, `${scan.failed_chunks.length} chunk(s) failed: `, scan.failed_chunks.map((c) => `${c.offset} (${c.error})`).join(", ")) : null,
    scan.error ? el("div", { class: "error" }, `${scan.error.error} in ${scan.error.phase ?? "?"}: ${scan.error.cause}`) : null,
    el(
      "div",
      { class: "actions" },
      running ? act("Cancel", "Cancel this scan?", () => app.api.post(`${base}/cancel`)) : null,
      scan.status === "failed" || scan.status === "cancelled" ? act("Retry", "Resume this scan? Chunks already scored are not scored again.", () => app.api.post(`${base}/retry`)) : null,
      withEventsLink && scan.summary ? el("a", { class: "button", href: scanHref(scan.model_id, scan.id), "data-link": true }, `Events (${scan.summary.events})`) : null,
    ),
  );
}

/** Re-read `load` every POLL_MS while `running` says so, replacing `node`; stops when it ends. */
function pollWhileRunning<T>(app: App, node: HTMLElement, load: () => Promise<T>, draw: (fresh: T) => HTMLElement, running: (fresh: T) => boolean, ended: () => void): void {
  let current = node;
  app.poll(async () => {
    try {
      const fresh = await load();
      const next = draw(fresh);
      current.replaceWith(next);
      current = next;
      if (!running(fresh)) {
        ended();
        return false;
      }
    } catch (error) {
      current.querySelector(".stale")?.remove();
      current.prepend(el("div", { class: "stale error offline" }, error instanceof NetworkError ? "Connection lost: this progress is not live. Reconnecting…" : `Progress is not updating: ${(error as Error).message}`));
    }
    return true;
  }, POLL_MS);
}

function startForm(app: App, modelId: string, started: () => void): HTMLElement {
  const lastN = el("input", { type: "number", name: "last_n", min: 1, value: 5000, id: "scan-last-n" });
  const sensitivity = el("select", { name: "sensitivity", id: "scan-sensitivity" }, ...["low", "medium", "high"].map((s) => el("option", { value: s, selected: s === "medium" }, `${s} (FDR ${s === "low" ? 1 : s === "medium" ? 5 : 10} %)`)));
  const problem = el("div");
  const button = el("button", { id: "start-scan", type: "submit" }, "Start scan");
  const form = el("form", { class: "scan-form" }, el("label", {}, "Last N points ", lastN), " ", el("label", {}, "Sensitivity ", sensitivity), " ", button, problem);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      await app.api.post(scansPath(modelId), { last_n: Number(lastN.value), sensitivity: sensitivity.value });
      started();
    } catch (error) {
      replace(problem, errorPanel(error));
      button.disabled = false;
    }
  });
  return form;
}

function modelPicker(app: App): HTMLElement {
  return section("Anomaly scans", async (body) => {
    const models = await app.api.get<Page<Model>>("/models/", { query: { limit: 100 } });
    replace(
      body,
      el("p", {}, "Choose a model: its served forecaster scores each reading against what it expected."),
      models.items.length
        ? el("ul", { class: "model-list" }, ...models.items.map((m) => el("li", {}, el("a", { href: scanHref(m.id), "data-link": true }, m.name), ` · ${m.entity_id} · ${m.feature} `, el("span", { class: `badge status-${m.status}` }, m.status))))
        : el("p", {}, "No model yet."),
    );
  });
}

function scansOfModel(app: App, modelId: string): HTMLElement {
  const page = el("div");
  const render = () =>
    replace(
      page,
      section(null, async (body) => {
        const [model, scans] = await Promise.all([app.api.get<Model>(`/models/${modelId}`), app.api.get<Page<Scan>>(scansPath(modelId), { query: { limit: 20 } })]);
        const list = () => el("div", { class: "jobs scans", id: "scan-list" }, ...(scans.items.length ? scans.items.map((s) => scanCard(app, s, render)) : [el("p", {}, "No scan yet.")]));
        const shown = list();
        replace(
          body,
          el("h1", {}, `Anomaly scans · ${model.name}`),
          el("p", {}, el("a", { href: `models/${model.id}`, "data-link": true }, "Model"), " · ", el("a", { href: "anomalies", "data-link": true }, "Other models")),
          model.serving ? startForm(app, model.id, render) : el("p", { class: "muted" }, "The model serves no trained job yet: train it before scanning."),
          shown,
        );
        if (anyRunning(scans.items)) {
          pollWhileRunning(
            app,
            shown,
            () => app.api.get<Page<Scan>>(scansPath(modelId), { query: { limit: 20 } }),
            (fresh) => {
              scans.items = fresh.items;
              return list();
            },
            (fresh) => anyRunning(fresh.items),
            () => undefined,
          );
        }
      }),
    );
  render();
  return page;
}

function eventsTable(events: Page<AnomalyEvent>, skip: number, modelId: string, scanId: string): HTMLElement {
  const links = pageLinks(events.total, skip, EVENTS_PER_PAGE);
  const time = (iso: string) => new Date(iso).toISOString().replace("T", " ").replace(/:00\.000Z$|\.000Z$/, "Z");
  return el(
    "div",
    { id: "scan-events" },
    el(
      "table",
      { class: "metrics events" },
      el("thead", {}, el("tr", {}, ...["#", "Start", "End", "Peak at", "Peak", "Expected", "Severity", "Level", "Points", "Direction"].map((h) => el("th", {}, h)))),
      el(
        "tbody",
        {},
        ...events.items.map((e) =>
          el("tr", { "data-event": e.index }, el("td", {}, e.index), el("td", {}, time(e.start)), el("td", {}, time(e.end)), el("td", {}, time(e.peak_time)), el("td", {}, fmt(e.peak_value, 4)), el("td", {}, fmt(e.expected, 4)), el("td", {}, e.severity), el("td", {}, el("span", { class: `badge level-${e.level}` }, e.level)), el("td", {}, e.points), el("td", {}, e.direction)),
        ),
      ),
    ),
    el(
      "p",
      { class: "muted" },
      `Events ${links.shown} `,
      links.previous != null ? el("a", { href: scanHref(modelId, scanId, links.previous), "data-link": true }, "← previous") : null,
      " ",
      links.next != null ? el("a", { href: scanHref(modelId, scanId, links.next), "data-link": true }, "next →") : null,
    ),
  );
}

function scanDetail(app: App, modelId: string, scanId: string, skip: number): HTMLElement {
  const page = el("div");
  const render = () =>
    replace(
      page,
      section(null, async (body) => {
        const scan = await app.api.get<Scan>(scansPath(modelId, scanId));
        const events = await app.api.get<Page<AnomalyEvent>>(`${scansPath(modelId, scanId)}/events`, { query: { skip, limit: EVENTS_PER_PAGE } });
        const card = scanCard(app, scan, render, false);
        const found = anomalyCount(scan);
        replace(
          body,
          el("h1", {}, `Anomaly scan ${scan.id.slice(0, 8)}`),
          el("p", {}, el("a", { href: scanHref(modelId), "data-link": true }, "All scans of this model")),
          card,
          scan.summary
            ? el("p", {}, `${found.count} anomalous point(s) at FDR ${scan.settings.false_discovery_rate} (p ≤ ${fmt(scan.summary.p_value_threshold)}), merged into ${scan.summary.events} event(s)${Object.keys(scan.summary.quality_issues).length ? `; data quality: ${Object.entries(scan.summary.quality_issues).map(([k, v]) => `${k} ${v}`).join(", ")}` : ""}.`)
            : null,
          el("h2", {}, "Events"),
          events.total ? eventsTable(events, skip, modelId, scanId) : el("p", {}, scanRunning(scan) ? "The events appear once every chunk is scored and combined." : "No anomaly event in this scan."),
        );
        if (scanRunning(scan)) {
          pollWhileRunning(app, card, () => app.api.get<Scan>(scansPath(modelId, scanId)), (fresh) => scanCard(app, fresh, render, false), scanRunning, render);
        }
      }),
    );
  render();
  return page;
}

export function anomaliesPage(app: App, query: URLSearchParams): HTMLElement {
  const model = query.get("model");
  const scan = query.get("scan");
  const skip = Math.max(0, Number(query.get("skip") ?? 0) || 0);
  return el("div", { class: "page", "data-page": "anomalies" }, model ? (scan ? scanDetail(app, model, scan, skip) : scansOfModel(app, model)) : modelPicker(app));
}
