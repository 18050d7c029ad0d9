/** Alerts: the alert rules with their current state, and the recent alerts with their deliveries
 * (GET /alert-rules, GET /alerts, GET /alerts/{id} for the newest ones). Read-only: rules and
 * channels are written with the API or `chronos rules` / `chronos channels`. */
import type { App, Page } from "../app";
import { type Alert, type AlertDetail, type AlertRule, byUrgency, deliverySummary, lastTransitionOf, summariseRules } from "../alerts-model";
import { age, el, fmt, replace, section } from "../ui";

/** Alerts whose deliveries are read (one GET /alerts/{id} each). */
const DETAILED = 20;

const stateBadge = (state: string) => el("span", { class: `badge alert-${state}` }, state);

export function alertsPage(app: App): HTMLElement {
  return el(
    "div",
    { class: "page", "data-page": "alerts" },
    el("h1", {}, "Alerts and rules"),
    section(null, async (body) => {
      const [rules, alerts] = await Promise.all([
        app.api.get<Page<AlertRule>>("/alert-rules", { query: { limit: 200 } }),
        app.api.get<Page<Alert>>("/alerts", { query: { status: "all", limit: 200 } }),
      ]);
      const shown = byUrgency(alerts.items).slice(0, 50);
      const details = await Promise.all(
        shown.slice(0, DETAILED).map((a) => app.api.get<AlertDetail>(`/alerts/${a.id}`).catch(() => null)),
      );
      const deliveries = new Map(details.filter((d): d is AlertDetail => d !== null).map((d) => [d.alert.id, deliverySummary(d.deliveries)]));
      const summaries = summariseRules(rules.items, alerts.items);
      replace(
        body,
        el("h2", {}, "Rules"),
        summaries.length
          ? el(
              "table",
              { class: "alert-rules" },
              el("thead", {}, el("tr", {}, ...["Rule", "Type", "Severity", "State", "Last transition", "Alerts", "Channels"].map((h) => el("th", {}, h)))),
              el(
                "tbody",
                {},
                ...summaries.map((s) =>
                  el(
                    "tr",
                    { "data-rule": s.rule.id },
                    el("td", {}, el("a", { href: `models/${s.rule.model_id}`, "data-link": true }, s.rule.name)),
                    el("td", {}, s.rule.type),
                    el("td", {}, s.rule.severity),
                    el("td", {}, stateBadge(s.state)),
                    el("td", { title: s.lastTransition ?? "" }, age(s.lastTransition)),
                    el("td", {}, String(s.fired)),
                    el("td", {}, String(s.rule.channels.length)),
                  ),
                ),
              ),
            )
          : el("p", { class: "muted" }, "No alert rule yet: create one with POST /alert-rules or `chronos rules create`."),
        el("p", { class: "muted" }, `${rules.total} rule(s); state from each rule's active alert (ok: none).`),
        el("h2", {}, "Alerts"),
        shown.length
          ? el(
              "table",
              { class: "alerts" },
              el("thead", {}, el("tr", {}, ...["Severity", "Rule", "Status", "State", "Series", "Value", "Started", "Last transition", "Deliveries", "Ack"].map((h) => el("th", {}, h)))),
              el(
                "tbody",
                {},
                ...shown.map((a) =>
                  el(
                    "tr",
                    { "data-alert": a.id, title: a.message },
                    el("td", {}, a.severity),
                    el("td", {}, a.rule_name),
                    el("td", {}, stateBadge(a.status)),
                    el("td", {}, a.state + (a.outcome ? ` (${a.outcome})` : "")),
                    el("td", {}, a.entity_id ?? "—"),
                    el("td", {}, a.threshold == null ? fmt(a.value) : `${fmt(a.value)} / ${fmt(a.threshold)}`),
                    el("td", { title: a.started_at }, age(a.started_at)),
                    el("td", {}, age(lastTransitionOf(a))),
                    el("td", { class: "deliveries" }, deliveries.get(a.id) ?? "—"),
                    el("td", {}, a.acknowledged_at ? "yes" : ""),
                  ),
                ),
              ),
            )
          : el("p", { class: "muted" }, "No alert has fired."),
        el("p", { class: "muted" }, `${alerts.total} alert(s), active ones first; deliveries of the ${DETAILED} most urgent.`),
      );
    }),
  );
}
