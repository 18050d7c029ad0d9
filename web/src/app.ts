/** What every page gets: the API client, the router, the signed-in identity. */
import type { ApiClient } from "./api";
import type { Auth } from "./auth";
import type { Router } from "./router";

export interface App {
  api: ApiClient;
  auth: Auth;
  router: Router;
  /** Runs `tick` every `ms` while the page shown is the one that started it; stop() ends it. */
  poll(tick: () => Promise<boolean>, ms: number): { stop(): void };
}

export const FINISHED = new Set(["completed", "failed", "cancelled"]);

export interface Model {
  id: string;
  name: string;
  model_type: string;
  status: string;
  feature: string;
  entity_type: string;
  entity_id: string;
  fiware_service: string;
  fiware_servicepath: string;
  lookback_window: number;
  forecast_horizon: number;
  epochs: number;
  batch_size: number;
  learning_rate: number;
  sampling_interval: string | null;
  rnn_layers: Array<{ units: number; dropout?: number }>;
  serving: { training_job_id: string; serving: string; rule?: string | null; test_coverage?: Record<string, number | null> | null } | null;
  created_at: string;
}

export interface Job {
  id: string;
  model_id: string;
  status: string;
  phase: string | null;
  progress: {
    chunks_total: number;
    chunks_done: number;
    points_expected: number;
    points_collected: number;
    epoch: number;
    epochs: number;
    loss: number | null;
    val_loss: number | null;
    training_phase: string | null;
    percent: number;
  };
  phases: Record<string, { started_at: string | null; ended_at: string | null; seconds: number | null }>;
  metrics: {
    test: Record<string, number | null>;
    served?: Record<string, number | null> | null;
    test_coverage?: Record<string, number | null> | null;
    baselines: { season_length: number; last_value: Record<string, number | null>; seasonal_naive: Record<string, number | null>; skill_vs_seasonal_naive: number | null };
  } | null;
  serving: string | null;
  selection: { serving: string; rule?: string } | null;
  error: { phase: string | null; error: string; cause: string } | null;
  history?: Array<{ epoch: number; loss: number | null; val_loss: number | null }> | null;
  prediction_config: { enabled: boolean; interval_seconds: number; entity_id: string } | null;
  next_prediction_at: string | null;
  last_forecast: { status?: string; finished_at?: string | null; started_at?: string | null } | null;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
}

export interface Page<T> {
  items: T[];
  total: number;
}
