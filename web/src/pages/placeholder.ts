/** Pages for capabilities being built in parallel (alerts, retraining, anomaly scans). */
import { el } from "../ui";

export function placeholderPage(title: string, what: string): HTMLElement {
  return el(
    "div",
    { class: "page", "data-page": "placeholder" },
    el("h1", {}, title),
    el("p", { class: "placeholder" }, `${what} This page is a placeholder: the capability is being built; its page will be added in web/src/extensions.ts.`),
  );
}
