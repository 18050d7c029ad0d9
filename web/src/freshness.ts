/** The newest STH data point of a model as the overview shows it (`GET /models/{id}/data-freshness`). */
import { age } from "./ui";

export interface DataFreshness {
  latest_time: string | null;
  age_seconds: number | null;
  interval_seconds: number | null;
  stale_after_seconds: number | null;
  /** The API's rule: older than 3 sampling intervals (or no point at all); null: no known interval. */
  stale: boolean | null;
}

/** What the cell says: the point's age, whether to show the stale badge, and a tooltip with the rule. */
export function freshnessView(f: DataFreshness | null, now = Date.now()): { text: string; stale: boolean; title: string } {
  if (!f) return { text: "—", stale: false, title: "STH-Comet could not be read" };
  const rule =
    f.stale_after_seconds != null
      ? `stale after ${Math.round(f.stale_after_seconds)} s (3 × the ${Math.round(f.interval_seconds ?? 0)} s sampling interval)`
      : "no sampling interval known: stated in the model or measured by a training";
  if (!f.latest_time) return { text: "no data", stale: f.stale === true, title: rule };
  return { text: age(f.latest_time, now), stale: f.stale === true, title: `${f.latest_time}; ${rule}` };
}
