/** Retraining: a model's policy with its next fire times (zone and UTC), its recent runs, the
 * champion and the challengers kept out, and the training queue with positions and waits. */
import { ApiError } from "../api";
import type { App, Model } from "../app";
import {
  limitText,
  queueRows,
  runOutcome,
  runSource,
  waitText,
  windowText,
  type PolicyView,
  type QueueSnapshot,
  type RetrainingRun,
} from "../retraining-view";
import { el, fmt, replace, section } from "../ui";

interface ChampionView {
  model_id: string;
  champion: { training_job_id: string; model_version: number | null; serving: string | null; test_mae: number | null } | null;
  pinned: boolean;
  previous_champions: string[];
  challengers: Array<{ training_job_id: string; model_version: number | null; test_mae: number | null; promotion: { reason: string } | null }>;
}

function table(headers: string[], rows: Array<Array<string | number | HTMLElement | null>>, attrs: Record<string, string> = {}): HTMLElement {
  return el(
    "table",
    attrs,
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", {}, c ?? "—"))))),
  );
}

export function retrainingPage(app: App, query: URLSearchParams): HTMLElement {
  const page = el("div", { class: "page", "data-page": "retraining" });
  const chooser = el("select", { id: "retraining-model" });
  const detail = el("div", { class: "retraining-model" });
  const show = (modelId: string) => {
    if (!modelId) {
      replace(detail, el("p", { class: "muted" }, "Choose a model to see its retraining policy."));
      return;
    }
    replace(detail, policySection(app, modelId), runsSection(app, modelId), championSection(app, modelId));
  };
  chooser.addEventListener("change", () => {
    history.replaceState(null, "", `?model=${encodeURIComponent(chooser.value)}`);
    show(chooser.value);
  });
  replace(
    page,
    el("h1", {}, "Retraining"),
    section(null, async (body) => {
      const models = await app.api.get<{ items: Model[] }>("/models/", { query: { limit: 200 } });
      const wanted = query.get("model") ?? "";
      replace(chooser, el("option", { value: "" }, "—"), ...models.items.map((m) => el("option", { value: m.id, selected: m.id === wanted }, `${m.name} (${m.status})`)));
      replace(body, el("label", { for: "retraining-model" }, "Model: "), chooser);
      show(wanted);
    }),
    detail,
    queueSection(app),
  );
  return page;
}

function policySection(app: App, modelId: string): HTMLElement {
  return section("Policy", async (body) => {
    let view: PolicyView;
    try {
      view = await app.api.get<PolicyView>(`/models/${modelId}/retraining-policy`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        replace(body, el("p", { class: "no-policy" }, "No retraining policy: only `chronos retrain` (POST …/retrain) retrains this model."));
        return;
      }
      throw e;
    }
    const p = view.policy;
    replace(
      body,
      el("p", { class: "policy-summary" }, `${p.enabled ? "Enabled" : "Disabled"}: ${view.description ?? "no schedule (rules and users only)"}; trains on ${windowText(p.window)}.`),
      el(
        "p",
        { class: "muted" },
        `At least ${p.min_new_points} new points, cooldown ${p.cooldown ?? "none"}, at most ${p.max_per_day} a day, promotion margin ${fmt(p.promotion_margin * 100, 3)} %, trigger rules ${p.trigger_rules.length ? p.trigger_rules.join(", ") : "none"}${p.warm_start ? ", warm start" : ""}.`,
      ),
      table(["Next fire time (local)", "UTC"], view.next_fire_times.map((f) => [f.local, f.utc]), { class: "fire-times" }),
      ...view.dst_notes.map((note) => el("p", { class: "dst-note" }, `Daylight saving: ${note}`)),
    );
  });
}

function runsSection(app: App, modelId: string): HTMLElement {
  return section("Recent runs", async (body) => {
    const runs = await app.api.get<{ items: RetrainingRun[]; total: number }>(`/models/${modelId}/retraining-runs`, { query: { limit: 20 } });
    replace(
      body,
      runs.items.length
        ? table(["At", "Trigger", "Outcome", "Reason"], runs.items.map((r) => [r.at, runSource(r), runOutcome(r), r.reason ?? null]), { class: "runs" })
        : el("p", { class: "muted" }, "No run yet."),
    );
  });
}

function championSection(app: App, modelId: string): HTMLElement {
  return section("Champion and challengers", async (body) => {
    const view = await app.api.get<ChampionView>(`/models/${modelId}/champion`);
    const champion = view.champion;
    replace(
      body,
      el(
        "p",
        { class: "champion" },
        champion ? `Serving ${champion.training_job_id} (version ${champion.model_version ?? "—"}, ${champion.serving ?? "—"}, test MAE ${fmt(champion.test_mae, 4)})${view.pinned ? ", pinned" : ""}.` : "No champion yet.",
        view.previous_champions.length ? ` Previous: ${view.previous_champions.join(", ")}.` : "",
      ),
      view.challengers.length
        ? table(["Challenger", "Version", "Test MAE", "Kept because"], view.challengers.map((c) => [c.training_job_id, c.model_version ?? null, fmt(c.test_mae, 4), c.promotion?.reason ?? null]), { class: "challengers" })
        : el("p", { class: "muted" }, "No challenger kept out."),
    );
  });
}

function queueSection(app: App): HTMLElement {
  return section("Training queue", async (body) => {
    const snapshot = await app.api.get<QueueSnapshot>("/training-queue");
    const rows = queueRows(snapshot);
    replace(
      body,
      el(
        "p",
        { class: "queue-limits" },
        `Limits: ${limitText(snapshot.global_limit)} at once, ${limitText(snapshot.tenant_limit)} per tenant; a training takes ${waitText(snapshot.typical_duration_seconds)}.`,
      ),
      rows.length
        ? table(["Position", "Job", "Model", "Tenant", "Status", "Blocked by", "Estimated wait", "Since"], rows.map((r) => [r.position, r.jobId, el("a", { href: `models/${r.modelId}`, "data-link": true }, r.modelId), r.tenant, r.status, r.blockedBy, r.wait, r.since]), { class: "queue" })
        : el("p", { class: "muted" }, "No training is running or waiting."),
    );
  });
}
