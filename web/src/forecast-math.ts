/**
 * Pure functions behind the forecast chart: one time grid for every series (so gaps stay gaps),
 * and the share of later actuals that fell inside each published band.
 */

export interface ActualPoint {
  timestamp: string;
  value: number | null;
}

export interface BandedPoint {
  target: number; // epoch seconds
  value: number;
  lower: Record<string, number>;
  upper: Record<string, number>;
}

export interface ForecastApiPoint {
  step: number;
  value: number;
  target_timestamp: string;
  lower: Record<string, number>;
  upper: Record<string, number>;
}

/** A published batch as STH returns it (camelCase, from Orion's forecastSeries). */
export interface PublishedBatch {
  generated_at: string;
  horizon: number | null;
  points: Array<{ step?: number; value?: number; targetTimestamp?: string; lower?: Record<string, number>; upper?: Record<string, number> }>;
}

export const LEVELS = ["80", "95"] as const;

export function toSeconds(iso: string): number {
  return Date.parse(iso) / 1000;
}

/** `t` moved to the nearest slot of the grid `anchor + k × interval`. */
export function snap(t: number, anchor: number, interval: number): number {
  return anchor + Math.round((t - anchor) / interval) * interval;
}

export function fromApi(points: ForecastApiPoint[]): BandedPoint[] {
  return points.map((p) => ({ target: toSeconds(p.target_timestamp), value: p.value, lower: p.lower ?? {}, upper: p.upper ?? {} }));
}

export function fromPublished(batches: PublishedBatch[]): BandedPoint[][] {
  return batches.map((batch) =>
    batch.points
      .filter((p) => typeof p.value === "number" && typeof p.targetTimestamp === "string")
      .map((p) => ({ target: toSeconds(p.targetTimestamp!), value: p.value!, lower: p.lower ?? {}, upper: p.upper ?? {} })),
  );
}

export interface ChartSeries {
  x: number[];
  actual: (number | null)[];
  forecast: (number | null)[];
  lower80: (number | null)[];
  upper80: (number | null)[];
  lower95: (number | null)[];
  upper95: (number | null)[];
  past: (number | null)[];
  pastLower80: (number | null)[];
  pastUpper80: (number | null)[];
}

/**
 * Every series on one grid anchored at the last observation: actual slots with no value are
 * null, and so are slots no reading covers (a gap of more than one interval), so the chart
 * never joins across a gap. Past batches are overlaid newest-last (a later batch's value wins).
 */
export function alignSeries(
  actuals: ActualPoint[],
  latest: BandedPoint[],
  past: BandedPoint[][],
  intervalSeconds: number,
  lastObservation: string,
): ChartSeries {
  const anchor = toSeconds(lastObservation);
  const slots = new Map<number, Partial<Record<keyof ChartSeries, number | null>>>();
  const at = (t: number) => {
    const key = snap(t, anchor, intervalSeconds);
    let row = slots.get(key);
    if (!row) slots.set(key, (row = {}));
    return row;
  };
  const observed = actuals.map((p) => ({ t: snap(toSeconds(p.timestamp), anchor, intervalSeconds), v: p.value }));
  observed.sort((a, b) => a.t - b.t);
  for (let i = 0; i < observed.length; i++) {
    at(observed[i].t).actual = observed[i].v;
    const next = observed[i + 1];
    if (next && next.t - observed[i].t > intervalSeconds * 1.5) at(observed[i].t + intervalSeconds).actual = null;
  }
  for (const p of latest) {
    const row = at(p.target);
    row.forecast = p.value;
    row.lower80 = p.lower["80"] ?? null;
    row.upper80 = p.upper["80"] ?? null;
    row.lower95 = p.lower["95"] ?? null;
    row.upper95 = p.upper["95"] ?? null;
  }
  const oldestFirst = [...past].reverse();
  for (const batch of oldestFirst) {
    for (const p of batch) {
      const row = at(p.target);
      row.past = p.value;
      row.pastLower80 = p.lower["80"] ?? null;
      row.pastUpper80 = p.upper["80"] ?? null;
    }
  }
  const x = [...slots.keys()].sort((a, b) => a - b);
  const column = (key: keyof ChartSeries) => x.map((t) => slots.get(t)![key] ?? null);
  return {
    x,
    actual: column("actual"),
    forecast: column("forecast"),
    lower80: column("lower80"),
    upper80: column("upper80"),
    lower95: column("lower95"),
    upper95: column("upper95"),
    past: column("past"),
    pastLower80: column("pastLower80"),
    pastUpper80: column("pastUpper80"),
  };
}

export interface Coverage {
  /** Forecast points whose target has an actual value. */
  compared: number;
  /** Level ("80", "95") -> share of those inside the band, or null when none were compared. */
  inside: Record<string, number | null>;
}

/** The share of actuals that fell inside each band of the published forecasts. */
export function coverage(actuals: ActualPoint[], past: BandedPoint[][], intervalSeconds: number, lastObservation: string): Coverage {
  const anchor = toSeconds(lastObservation);
  const values = new Map<number, number>();
  for (const p of actuals) if (p.value !== null) values.set(snap(toSeconds(p.timestamp), anchor, intervalSeconds), p.value);
  let compared = 0;
  const hits: Record<string, number> = { "80": 0, "95": 0 };
  for (const batch of past) {
    for (const p of batch) {
      const actual = values.get(snap(p.target, anchor, intervalSeconds));
      if (actual === undefined) continue;
      compared++;
      for (const level of LEVELS) {
        const lo = p.lower[level];
        const hi = p.upper[level];
        if (lo !== undefined && hi !== undefined && actual >= lo && actual <= hi) hits[level]++;
      }
    }
  }
  const inside: Record<string, number | null> = {};
  for (const level of LEVELS) inside[level] = compared ? hits[level] / compared : null;
  return { compared, inside };
}
