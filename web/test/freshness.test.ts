import { describe, expect, it } from "vitest";
import { freshnessView } from "../src/freshness";
import { lossColumns } from "../src/loss-curve";

const NOW = Date.parse("2025-06-01T12:00:00Z");

describe("freshnessView", () => {
  it("shows the age and the badge as the API decides, with the rule as a tooltip", () => {
    const fresh = freshnessView({ latest_time: "2025-06-01T11:50:00.000Z", age_seconds: 600, interval_seconds: 900, stale_after_seconds: 2700, stale: false }, NOW);
    expect(fresh).toEqual({ text: "10 min ago", stale: false, title: "2025-06-01T11:50:00.000Z; stale after 2700 s (3 × the 900 s sampling interval)" });
    const old = freshnessView({ latest_time: "2025-06-01T09:00:00.000Z", age_seconds: 10800, interval_seconds: 900, stale_after_seconds: 2700, stale: true }, NOW);
    expect([old.text, old.stale]).toEqual(["3 h ago", true]);
  });

  it("says when there is no point, no known interval, or STH failed", () => {
    expect(freshnessView({ latest_time: null, age_seconds: null, interval_seconds: 60, stale_after_seconds: 180, stale: true }, NOW)).toMatchObject({ text: "no data", stale: true });
    const unknown = freshnessView({ latest_time: "2025-06-01T11:00:00.000Z", age_seconds: 3600, interval_seconds: null, stale_after_seconds: null, stale: null }, NOW);
    expect(unknown.stale).toBe(false);
    expect(unknown.title).toContain("no sampling interval known");
    expect(freshnessView(null, NOW)).toEqual({ text: "—", stale: false, title: "STH-Comet could not be read" });
  });
});

describe("lossColumns", () => {
  it("orders epochs and leaves missing or non-finite losses as gaps", () => {
    expect(
      lossColumns([
        { epoch: 2, loss: 0.5, val_loss: null },
        { epoch: 1, loss: 0.9, val_loss: 1.1 },
        { epoch: 3, loss: Number.NaN, val_loss: 0.7 },
      ]),
    ).toEqual([[1, 2, 3], [0.9, 0.5, null], [1.1, null, 0.7]]);
    expect(lossColumns(null)).toEqual([[], [], []]);
  });
});
