import { describe, expect, it } from "vitest";
import { type Alert, type AlertRule, type Delivery, byUrgency, deliverySummary, lastTransitionOf, summariseRules } from "../src/alerts-model";

const rule = (id: string, enabled = true): AlertRule => ({
  id,
  name: `rule ${id}`,
  type: "observed_threshold",
  severity: "high",
  model_id: "m1",
  job_id: null,
  evaluation_interval_seconds: 60,
  channels: ["c1"],
  enabled,
  created_at: "2026-01-01T00:00:00Z",
});

const alert = (id: string, fields: Partial<Alert> = {}): Alert => ({
  id,
  rule_id: "r1",
  rule_name: "rule r1",
  rule_type: "observed_threshold",
  severity: "high",
  status: "firing",
  state: "firing",
  entity_id: "urn:x:Tank:1",
  message: "",
  value: 97,
  threshold: 90,
  started_at: "2026-01-01T10:00:00Z",
  updated_at: "2026-01-01T10:00:00Z",
  resolved_at: null,
  acknowledged_at: null,
  outcome: null,
  ...fields,
});

const delivery = (status: Delivery["status"], fields: Partial<Delivery> = {}): Delivery => ({
  id: `n-${status}`,
  channel_id: "c1",
  channel_type: "webhook",
  kind: "firing",
  status,
  attempts: 1,
  last_error: null,
  ...fields,
});

describe("summariseRules", () => {
  it("takes the state of the active alert and the latest transition of all the rule's alerts", () => {
    const alerts = [
      alert("old", { status: "resolved", state: "ok", started_at: "2026-01-01T08:00:00Z", resolved_at: "2026-01-01T09:00:00Z" }),
      alert("now", { state: "no_data", started_at: "2026-01-01T10:00:00Z", updated_at: "2026-01-01T10:30:00Z" }),
      alert("other", { rule_id: "r2", status: "resolved", state: "ok", resolved_at: "2026-01-01T11:00:00Z" }),
      alert("operational", { rule_id: null }),
    ];
    const [r1, r2, r3] = summariseRules([rule("r1"), rule("r2"), rule("r3", false)], alerts);
    expect(r1.state).toBe("no_data");
    expect(r1.active?.id).toBe("now");
    expect(r1.lastTransition).toBe("2026-01-01T10:30:00Z");
    expect(r1.fired).toBe(2);
    expect([r2.state, r2.lastTransition, r2.active]).toEqual(["ok", "2026-01-01T11:00:00Z", null]);
    expect([r3.state, r3.lastTransition, r3.fired]).toEqual(["disabled", null, 0]);
  });

  it("keeps the rules' order and a resolution is the last transition of a resolved alert", () => {
    const resolved = alert("a", { status: "resolved", state: "ok", updated_at: "2026-01-01T12:00:00Z", resolved_at: "2026-01-01T11:59:00Z" });
    expect(lastTransitionOf(resolved)).toBe("2026-01-01T11:59:00Z");
    expect(summariseRules([rule("r2"), rule("r1")], [resolved]).map((s) => s.rule.id)).toEqual(["r2", "r1"]);
  });
});

describe("deliverySummary", () => {
  it("counts deliveries by status with the attempt of a retry and the reason of a failure", () => {
    expect(deliverySummary([])).toBe("none");
    expect(
      deliverySummary([
        delivery("failed", { last_error: "HTTP 410", attempts: 1 }),
        delivery("delivered"),
        delivery("retrying", { attempts: 2 }),
        delivery("delivered", { id: "n2", attempts: 3 }),
      ]),
    ).toBe("2 delivered · 1 retrying (attempt 2) · 1 failed: HTTP 410");
  });
});

describe("byUrgency", () => {
  it("puts active alerts first, then the most severe, then the newest", () => {
    const sorted = byUrgency([
      alert("resolved-critical", { status: "resolved", severity: "critical" }),
      alert("low-new", { severity: "low", started_at: "2026-01-02T00:00:00Z" }),
      alert("critical", { severity: "critical" }),
      alert("low-old", { severity: "low", started_at: "2026-01-01T00:00:00Z" }),
    ]);
    expect(sorted.map((a) => a.id)).toEqual(["critical", "low-new", "low-old", "resolved-critical"]);
  });
});
