import { describe, expect, it } from "vitest";
import { anomalyCount, anyRunning, formatSeconds, pageLinks, scanProgressText, scanRunning, type Scan } from "../src/scan-view";

function scan(status: string, progress: Partial<Scan["progress"]> = {}, summary: Scan["summary"] = null): Scan {
  return {
    id: "s1",
    model_id: "m1",
    job_id: "j1",
    status,
    phase: null,
    request: { last_n: 1000, date_from: null, date_to: null },
    settings: { false_discovery_rate: 0.05, min_event_points: 1, merge_gap: 2 },
    progress: { chunks_total: 8, chunks_done: 2, chunks_failed: 0, points_expected: 100000, points_read: 30000, points_scored: 25000, anomalies_so_far: 4, percent: 23.8, eta_seconds: 75, ...progress },
    phases: {},
    summary,
    failed_chunks: [],
    error: null,
    created_at: "2026-01-01T00:00:00Z",
    started_at: null,
    ended_at: null,
    duration_seconds: null,
  };
}

describe("polling", () => {
  it("goes on while a scan has not finished and stops when all have", () => {
    for (const status of ["pending", "queued", "running"]) expect(scanRunning(scan(status))).toBe(true);
    for (const status of ["completed", "completed_with_failures", "failed", "cancelled"]) expect(scanRunning(scan(status))).toBe(false);
    expect(anyRunning([scan("completed"), scan("running")])).toBe(true);
    expect(anyRunning([scan("completed"), scan("completed_with_failures"), scan("failed")])).toBe(false);
    expect(anyRunning([])).toBe(false);
  });
});

describe("scanProgressText", () => {
  it("shows chunks, points scored, anomalies so far and the ETA while running", () => {
    const t = scanProgressText(scan("running", { chunks_failed: 1 }));
    expect(t.percent).toBe(23.8);
    expect(t.line).toBe("chunks 2/8 (1 failed) · points scored 25,000/100,000 · anomalies 4 so far");
    expect(t.eta).toBe("1 min 15 s left");
  });

  it("shows the final count and events once combined, and no ETA after the end", () => {
    const summary = { points_scored: 99952, flagged_points: 3, p_value_threshold: 1e-5, events: 2, events_by_level: {}, quality_issues: {}, published: 2 };
    const t = scanProgressText(scan("completed", { percent: 100, eta_seconds: 0 }, summary));
    expect(t.line).toContain("anomalies 3 · events 2");
    expect(t.eta).toBeNull();
    expect(anomalyCount(scan("completed", {}, summary))).toEqual({ count: 3, final: true });
  });

  it("clamps the bar and has no ETA when the API has none", () => {
    expect(scanProgressText(scan("running", { percent: 140, eta_seconds: null }))).toMatchObject({ percent: 100, eta: null });
  });
});

describe("formatSeconds and pageLinks", () => {
  it("formats durations", () => {
    expect(formatSeconds(12.4)).toBe("12 s");
    expect(formatSeconds(3725)).toBe("1 h 02 min");
  });

  it("pages a table", () => {
    expect(pageLinks(75, 40, 20)).toEqual({ shown: "41–60 of 75", previous: 20, next: 60 });
    expect(pageLinks(75, 60, 20)).toEqual({ shown: "61–75 of 75", previous: 40, next: null });
    expect(pageLinks(5, 0, 20)).toEqual({ shown: "1–5 of 5", previous: null, next: null });
    expect(pageLinks(0, 0, 20)).toEqual({ shown: "none", previous: null, next: null });
  });
});
