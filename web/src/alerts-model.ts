/**
 * What the alerts page shows, computed from the API's answers (unit-tested in
 * test/alerts-model.test.ts): each rule's current alert state and last transition, and each
 * alert's deliveries in a line.
 */

export interface AlertRule {
  id: string;
  name: string;
  type: string;
  severity: string;
  model_id: string;
  job_id: string | null;
  evaluation_interval_seconds: number;
  channels: string[];
  enabled: boolean;
  created_at: string;
}

export interface Alert {
  id: string;
  rule_id: string | null;
  rule_name: string;
  rule_type: string;
  severity: string;
  status: "firing" | "resolved";
  state: string;
  entity_id: string | null;
  message: string;
  value: number | null;
  threshold: number | null;
  started_at: string;
  updated_at: string;
  resolved_at: string | null;
  acknowledged_at: string | null;
  outcome: string | null;
}

export interface Delivery {
  id: string;
  channel_id: string;
  channel_type: string;
  kind: string;
  status: "pending" | "delivered" | "retrying" | "failed";
  attempts: number;
  last_error: string | null;
}

export interface AlertDetail {
  alert: Alert;
  deliveries: Delivery[];
}

export interface RuleSummary {
  rule: AlertRule;
  /** The state of the rule's active alert, "ok" when it has none ("disabled" for a disabled rule). */
  state: string;
  /** When the rule last changed: the latest start, change or resolution of its alerts. */
  lastTransition: string | null;
  active: Alert | null;
  fired: number;
}

const latest = (a: string | null, b: string | null): string | null => (a === null ? b : b === null ? a : Date.parse(b) > Date.parse(a) ? b : a);

/** The latest transition of one alert: its resolution, else its last change, else its start. */
export function lastTransitionOf(alert: Alert): string {
  return alert.resolved_at ?? latest(alert.started_at, alert.updated_at) ?? alert.started_at;
}

/** One summary per rule (in the rules' order) from the alerts listed (any status). */
export function summariseRules(rules: AlertRule[], alerts: Alert[]): RuleSummary[] {
  const byRule = new Map<string, Alert[]>();
  for (const alert of alerts) {
    if (alert.rule_id === null) continue;
    const list = byRule.get(alert.rule_id) ?? [];
    list.push(alert);
    byRule.set(alert.rule_id, list);
  }
  return rules.map((rule) => {
    const own = byRule.get(rule.id) ?? [];
    const active = own.filter((a) => a.status === "firing").sort((a, b) => Date.parse(b.started_at) - Date.parse(a.started_at))[0] ?? null;
    const lastTransition = own.reduce<string | null>((at, a) => latest(at, lastTransitionOf(a)), null);
    const state = !rule.enabled ? "disabled" : active ? active.state : "ok";
    return { rule, state, lastTransition, active, fired: own.length };
  });
}

/** "2 delivered · 1 retrying (attempt 2) · 1 failed: HTTP 500", or "none". */
export function deliverySummary(deliveries: Delivery[]): string {
  if (!deliveries.length) return "none";
  const order: Delivery["status"][] = ["delivered", "pending", "retrying", "failed"];
  const parts: string[] = [];
  for (const status of order) {
    const these = deliveries.filter((d) => d.status === status);
    if (!these.length) continue;
    if (status === "retrying") {
      const attempt = Math.max(...these.map((d) => d.attempts));
      parts.push(`${these.length} retrying (attempt ${attempt})`);
    } else if (status === "failed") {
      const reason = these.find((d) => d.last_error)?.last_error;
      parts.push(`${these.length} failed${reason ? `: ${reason}` : ""}`);
    } else parts.push(`${these.length} ${status}`);
  }
  return parts.join(" · ");
}

/** Severities from the most to the least urgent (the alerts table sorts by it, then by start). */
export const SEVERITY_ORDER = ["critical", "high", "medium", "low", "informational"];

export function byUrgency(alerts: Alert[]): Alert[] {
  const rank = (s: string) => {
    const i = SEVERITY_ORDER.indexOf(s);
    return i < 0 ? SEVERITY_ORDER.length : i;
  };
  return [...alerts].sort(
    (a, b) =>
      Number(b.status === "firing") - Number(a.status === "firing") || rank(a.severity) - rank(b.severity) || Date.parse(b.started_at) - Date.parse(a.started_at),
  );
}
