/**
 * The extension point for capabilities that land later: each entry adds a navigation link and a
 * page under the app root. Alerts and rules, retraining policies and anomaly scans are being
 * built in parallel; replace their placeholder with the real page when their API lands.
 */
import type { App } from "./app";
import { alertsPage } from "./pages/alerts";
import { anomaliesPage } from "./pages/anomalies";
import { retrainingPage } from "./pages/retraining";

export interface Extension {
  /** Path under the app root ("alerts"); more routes may start with it ("alerts/:id"). */
  path: string;
  label: string;
  page: (app: App, params: Record<string, string>, query: URLSearchParams) => HTMLElement;
}

export const EXTENSIONS: Extension[] = [
  { path: "alerts", label: "Alerts", page: (app) => alertsPage(app) },
  { path: "retraining", label: "Retraining", page: (app, _params, query) => retrainingPage(app, query) },
  { path: "anomalies", label: "Anomaly scans", page: (app, _params, query) => anomaliesPage(app, query) },
];
