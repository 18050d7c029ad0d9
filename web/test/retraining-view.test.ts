import { describe, expect, it } from "vitest";
import { limitText, queueRows, runOutcome, runSource, waitText, windowText, type QueueSnapshot } from "../src/retraining-view";

describe("waitText", () => {
  it("says a wait in words, and unknown without an estimate", () => {
    expect(waitText(null)).toBe("unknown");
    expect(waitText(30)).toBe("under a minute");
    expect(waitText(240)).toBe("about 4 min");
    expect(waitText(9000)).toBe("about 2.5 h");
  });
});

describe("queueRows", () => {
  const snapshot: QueueSnapshot = {
    global_limit: 1,
    tenant_limit: 0,
    typical_duration_seconds: 120,
    running: [{ training_job_id: "r1", model_id: "m1", fiware_service: "energy", status: "training", started_at: "2026-03-28T02:00:00Z" }],
    waiting: [
      { training_job_id: "w2", model_id: "m3", fiware_service: "water", position: 2, enqueued_at: "2026-03-28T02:02:00Z", blocked_by: "global", estimated_wait_seconds: 240 },
      { training_job_id: "w1", model_id: "m2", fiware_service: "energy", position: 1, enqueued_at: "2026-03-28T02:01:00Z", blocked_by: null, estimated_wait_seconds: null },
    ],
  };

  it("lists the running trainings first, then the waiting ones by position", () => {
    const rows = queueRows(snapshot);
    expect(rows.map((r) => [r.position, r.jobId, r.status])).toEqual([
      ["running", "r1", "training"],
      ["1", "w1", "queued"],
      ["2", "w2", "queued"],
    ]);
    expect(rows[1].wait).toBe("unknown");
    expect(rows[2].wait).toBe("about 4 min");
    expect(rows[2].blockedBy).toBe("global");
  });

  it("shows a limit of 0 as no limit", () => {
    expect(limitText(snapshot.global_limit)).toBe("1");
    expect(limitText(snapshot.tenant_limit)).toBe("no limit");
  });
});

describe("runs and windows", () => {
  it("names who asked and what came of it", () => {
    const base = { key: "k", at: "2026-03-28T02:00:10Z", outcome: "skipped" };
    expect(runSource({ ...base, kind: "cron", fire_time: "2026-03-28T02:00:00Z" })).toBe("cron (fire time 2026-03-28T02:00:00Z)");
    expect(runSource({ ...base, kind: "rule", rule_id: "drift-1" })).toBe("rule drift-1");
    expect(runSource({ ...base, kind: "manual", user: "alice" })).toBe("manual by alice");
    expect(runOutcome({ ...base, kind: "cron", outcome_reason: "cooldown" })).toBe("skipped: cooldown");
    expect(runOutcome({ ...base, kind: "manual", outcome: "attached", job_id: "j2", outcome_reason: "joined training j2" })).toBe(
      "attached → j2: joined training j2",
    );
  });

  it("describes the training window", () => {
    expect(windowText({ last_n: 5000, duration: null })).toBe("the last 5000 points");
    expect(windowText({ last_n: null, duration: "P90D" })).toBe("the last P90D");
    expect(windowText({ last_n: null, duration: null })).toBe("every stored point");
  });
});
