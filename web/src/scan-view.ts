/** Anomaly scans as the dashboard shows them: the API's types, what a progress line says, when
 * polling goes on, and the events table's paging. Pure functions (unit-tested in
 * test/scan-view.test.ts); the page is pages/anomalies.ts. */

export interface ScanProgress {
  chunks_total: number;
  chunks_done: number;
  chunks_failed: number;
  points_expected: number;
  points_read: number;
  points_scored: number;
  anomalies_so_far: number;
  percent: number;
  eta_seconds: number | null;
}

export interface ScanSummary {
  points_scored: number;
  flagged_points: number;
  p_value_threshold: number | null;
  events: number;
  events_by_level: Record<string, number>;
  quality_issues: Record<string, number>;
  published: number;
}

export interface Scan {
  id: string;
  model_id: string;
  job_id: string;
  status: string;
  phase: string | null;
  request: { last_n: number | null; date_from: string | null; date_to: string | null };
  settings: { false_discovery_rate: number; min_event_points: number; merge_gap: number };
  progress: ScanProgress;
  phases: Record<string, { seconds: number | null }>;
  summary: ScanSummary | null;
  failed_chunks: Array<{ offset: number; error: string; cause: string }>;
  error: { error: string; cause: string; phase: string | null } | null;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  duration_seconds: number | null;
}

export interface AnomalyEvent {
  index: number;
  start: string;
  end: string;
  peak_time: string;
  peak_value: number;
  expected: number;
  p_value: number;
  severity: number;
  level: string;
  points: number;
  direction: string;
}

/** Statuses after which a scan no longer changes (polling stops). */
export const SCAN_FINISHED = new Set(["completed", "completed_with_failures", "failed", "cancelled"]);

export function scanRunning(scan: Pick<Scan, "status">): boolean {
  return !SCAN_FINISHED.has(scan.status);
}

/** Whether a list of scans needs polling: some scan has not finished. */
export function anyRunning(scans: Array<Pick<Scan, "status">>): boolean {
  return scans.some(scanRunning);
}

/** Seconds as "1 h 02 min", "3 min 05 s", "12 s". */
export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${s} s`;
}

/** The anomalies to show: Benjamini-Hochberg's final count once combined, else the chunks' so far. */
export function anomalyCount(scan: Pick<Scan, "summary" | "progress">): { count: number; final: boolean } {
  if (scan.summary) return { count: scan.summary.flagged_points, final: true };
  return { count: scan.progress.anomalies_so_far, final: false };
}

/** A scan's progress for people: the bar's percent, one line of counts, the ETA while it runs. */
export function scanProgressText(scan: Scan): { percent: number; line: string; eta: string | null } {
  const p = scan.progress;
  const percent = Math.max(0, Math.min(100, p.percent ?? 0));
  const found = anomalyCount(scan);
  const parts = [
    `chunks ${p.chunks_done}/${p.chunks_total}${p.chunks_failed ? ` (${p.chunks_failed} failed)` : ""}`,
    `points scored ${p.points_scored.toLocaleString("en")}/${p.points_expected.toLocaleString("en")}`,
    `anomalies ${found.count}${found.final ? "" : " so far"}`,
  ];
  if (scan.summary) parts.push(`events ${scan.summary.events}`);
  const eta = scanRunning(scan) && p.eta_seconds != null ? `${formatSeconds(p.eta_seconds)} left` : null;
  return { percent, line: parts.join(" · "), eta };
}

/** Paging of a table: which rows are shown ("41–60 of 75") and the skips of the previous and next pages (null: none). */
export function pageLinks(total: number, skip: number, limit: number): { shown: string; previous: number | null; next: number | null } {
  const first = total === 0 ? 0 : Math.min(skip + 1, total);
  const last = Math.min(skip + limit, total);
  return {
    shown: total === 0 ? "none" : `${first}–${last} of ${total}`,
    previous: skip > 0 ? Math.max(0, skip - limit) : null,
    next: skip + limit < total ? skip + limit : null,
  };
}
