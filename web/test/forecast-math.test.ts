import { describe, expect, it } from "vitest";
import { alignSeries, coverage, type BandedPoint } from "../src/forecast-math";

const t0 = Date.parse("2024-01-01T00:00:00Z") / 1000;
const iso = (step: number, jitterMs = 0) => new Date((t0 + step * 1800) * 1000 + jitterMs).toISOString();
const point = (step: number, value: number, half80 = 1, half95 = 2): BandedPoint => ({
  target: t0 + step * 1800,
  value,
  lower: { "80": value - half80, "95": value - half95 },
  upper: { "80": value + half80, "95": value + half95 },
});

describe("alignSeries", () => {
  it("keeps gaps as nulls, also slots with no reading at all", () => {
    const actuals = [
      { timestamp: iso(0, 137), value: 1 },
      { timestamp: iso(1, 137), value: null },
      { timestamp: iso(2, 137), value: 3 },
      { timestamp: iso(6, 137), value: 7 }, // steps 3..5 never arrived
    ];
    const s = alignSeries(actuals, [point(7, 8)], [], 1800, iso(6, 137));
    expect(s.x).toEqual([0, 1, 2, 3, 6, 7].map((k) => t0 + k * 1800 + 0.137));
    expect(s.actual).toEqual([1, null, 3, null, 7, null]);
    expect(s.forecast).toEqual([null, null, null, null, null, 8]);
    expect(s.lower95[5]).toBe(6);
    expect(s.upper80[5]).toBe(9);
  });

  it("overlays past batches with the newest winning", () => {
    const newestFirst = [[point(2, 20)], [point(2, 10), point(3, 30)]];
    const s = alignSeries([{ timestamp: iso(2), value: 19 }], [], newestFirst, 1800, iso(2));
    expect(s.past).toEqual([20, 30]);
  });
});

describe("coverage", () => {
  it("is the share of actuals inside each band", () => {
    const actuals = [0, 1, 2, 3].map((k) => ({ timestamp: iso(k, 137), value: 10 }));
    const past = [[point(0, 10), point(1, 11.5), point(2, 13), point(9, 10)]]; // step 9 has no actual
    const c = coverage(actuals, past, 1800, iso(3, 137));
    expect(c.compared).toBe(3);
    expect(c.inside["80"]).toBeCloseTo(1 / 3);
    expect(c.inside["95"]).toBeCloseTo(2 / 3);
    expect(coverage(actuals, [], 1800, iso(3)).inside["80"]).toBeNull();
  });
});
