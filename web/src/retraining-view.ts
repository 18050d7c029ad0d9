/**
 * What the retraining page shows, computed from the API's answers (unit-tested in
 * test/retraining-view.test.ts): the training queue as rows (running first, then waiting by
 * position, with estimated waits in words), a run's outcome in one line, and the champion's
 * challengers with the verdicts that kept them out.
 */

export interface FireTime {
  local: string;
  utc: string;
}

export interface PolicyView {
  model_id: string;
  policy: {
    enabled: boolean;
    schedule: { cron: string | null; timezone: string; rate: string | null; start: string | null; end: string | null } | null;
    window: { last_n: number | null; duration: string | null };
    min_new_points: number;
    cooldown: string | null;
    max_per_day: number;
    promotion_margin: number;
    trigger_rules: string[];
    warm_start: boolean;
  };
  description: string | null;
  next_fire_times: FireTime[];
  dst_notes: string[];
}

export interface RetrainingRun {
  key: string;
  kind: "cron" | "rule" | "manual";
  at: string;
  fire_time?: string | null;
  rule_id?: string | null;
  user?: string | null;
  reason?: string | null;
  outcome: string;
  outcome_reason?: string | null;
  job_id?: string | null;
}

export interface QueueSnapshot {
  global_limit: number;
  tenant_limit: number;
  running: Array<{ training_job_id: string; model_id: string; fiware_service: string; status: string; started_at: string | null }>;
  waiting: Array<{
    training_job_id: string;
    model_id: string;
    fiware_service: string;
    position: number;
    enqueued_at: string;
    blocked_by: string | null;
    estimated_wait_seconds: number | null;
  }>;
  typical_duration_seconds: number | null;
}

export interface QueueRow {
  position: string;
  jobId: string;
  modelId: string;
  tenant: string;
  status: string;
  blockedBy: string;
  wait: string;
  since: string | null;
}

/** A wait in words: "under a minute", "about 4 min", "about 2.5 h"; "unknown" without an estimate. */
export function waitText(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "unknown";
  if (seconds < 60) return "under a minute";
  if (seconds < 5400) return `about ${Math.round(seconds / 60)} min`;
  return `about ${(Math.round(seconds / 360) / 10).toString()} h`;
}

export function limitText(limit: number): string {
  return limit > 0 ? String(limit) : "no limit";
}

/** Running trainings first (no position), then the waiting ones by position. */
export function queueRows(snapshot: QueueSnapshot): QueueRow[] {
  const running = snapshot.running.map((r) => ({
    position: "running",
    jobId: r.training_job_id,
    modelId: r.model_id,
    tenant: r.fiware_service,
    status: r.status,
    blockedBy: "",
    wait: "",
    since: r.started_at,
  }));
  const waiting = [...snapshot.waiting]
    .sort((a, b) => a.position - b.position)
    .map((w) => ({
      position: String(w.position),
      jobId: w.training_job_id,
      modelId: w.model_id,
      tenant: w.fiware_service,
      status: "queued",
      blockedBy: w.blocked_by ?? "",
      wait: waitText(w.estimated_wait_seconds),
      since: w.enqueued_at,
    }));
  return [...running, ...waiting];
}

/** Who or what asked, for a run: "cron (fire time …)", "rule drift-1", "manual by alice". */
export function runSource(run: RetrainingRun): string {
  if (run.kind === "cron") return run.fire_time ? `cron (fire time ${run.fire_time})` : "cron";
  if (run.kind === "rule") return `rule ${run.rule_id ?? "?"}`;
  return run.user ? `manual by ${run.user}` : "manual";
}

/** What came of a run, in one line: the outcome, the job, and why. */
export function runOutcome(run: RetrainingRun): string {
  const job = run.job_id ? ` → ${run.job_id}` : "";
  const why = run.outcome_reason ? `: ${run.outcome_reason}` : "";
  return `${run.outcome}${job}${why}`;
}

/** The window a retraining trains on, in words. */
export function windowText(window: PolicyView["policy"]["window"]): string {
  if (window.last_n) return `the last ${window.last_n} points`;
  if (window.duration) return `the last ${window.duration}`;
  return "every stored point";
}
