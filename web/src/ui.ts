/** Tiny DOM helpers: the app is plain TypeScript, one function per page. */
import { ApiError, ForbiddenError, NetworkError, UnavailableError, UnauthorizedError } from "./api";

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | EventListener | null | undefined>;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  append(node, ...children);
  return node;
}

export function append(node: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
}

export function replace(node: Element, ...children: Child[]): void {
  node.replaceChildren();
  append(node, ...children);
}

export function age(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "—";
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

/** What the skill score's title says it is (the API's `skill_vs_seasonal_naive`). */
export const SKILL_DEFINITION = "1 − MSE(network) / MSE(seasonal naive) on the test split";

/**
 * A skill score (1 − MSE ratio) as a percentage. Below −1000 % (a seasonal-naive baseline that is
 * almost exact, as on a constant series) the number says nothing more, and one of 21 digits would
 * stretch the table: it reads "< −1000 %".
 */
export function skillPercent(skill: number | null | undefined): string {
  if (skill === null || skill === undefined || Number.isNaN(skill)) return "—";
  if (skill < -10) return "< −1000 %";
  return `${(skill * 100).toFixed(1)} %`;
}

export function fmt(value: number | null | undefined, digits = 3): string {
  return value === null || value === undefined || Number.isNaN(value) ? "—" : Number(value).toPrecision(digits);
}

/**
 * What a failed load shows: 403 says what is missing (no redirect), 503 and network errors a
 * friendly message with a retry button; 401 never gets here (the client went to sign-in).
 */
export function errorPanel(error: unknown, retry?: () => void): HTMLElement {
  const button = retry ? el("button", { class: "retry", onclick: () => retry() }, "Retry") : null;
  if (error instanceof ForbiddenError) {
    return el(
      "div",
      { class: "error forbidden", role: "alert" },
      el("strong", {}, "Not allowed. "),
      `${error.message}. Ask an administrator for it, or sign in with another account.`,
    );
  }
  if (error instanceof NetworkError) {
    return el(
      "div",
      { class: "error offline", role: "alert" },
      el("strong", {}, "Connection lost. "),
      "Chronos cannot be reached; what you see may be out of date. ",
      button,
    );
  }
  if (error instanceof UnavailableError) {
    return el(
      "div",
      { class: "error unavailable", role: "alert" },
      el("strong", {}, "Chronos is temporarily unavailable. "),
      "A service it depends on is not answering (we already tried again a few times). ",
      button,
    );
  }
  if (error instanceof UnauthorizedError) {
    return el("div", { class: "error", role: "alert" }, "Your session has expired: signing you in again…");
  }
  const message = error instanceof ApiError ? error.message : String((error as Error)?.message ?? error);
  return el("div", { class: "error", role: "alert" }, el("strong", {}, "Something went wrong. "), message, " ", button);
}

/** A page section that loads with `load`, shows its errors with a retry, and can reload. */
export function section(title: string | null, load: (body: HTMLElement) => Promise<void>): HTMLElement {
  const body = el("div", { class: "section-body" });
  const wrapper = el("section", {}, title ? el("h2", {}, title) : null, body);
  const run = async () => {
    replace(body, el("p", { class: "loading" }, "Loading…"));
    try {
      await load(body);
    } catch (error) {
      replace(body, errorPanel(error, run));
    }
  };
  void run();
  return wrapper;
}

export function confirmAction(message: string): boolean {
  return window.confirm(message);
}

/** A button that asks ``confirmText``, runs the write once (writes are never retried by
 * themselves), then calls ``refresh``; a failure replaces the button with the error panel. */
export function actionButton(
  label: string,
  confirmText: string,
  run: () => Promise<unknown>,
  refresh: () => void,
): HTMLElement {
  return el(
    "button",
    {
      class: `action ${label.toLowerCase()}`,
      onclick: async (event: Event) => {
        if (!confirmAction(confirmText)) return;
        const button = event.currentTarget as HTMLButtonElement;
        button.disabled = true;
        try {
          await run();
          refresh();
        } catch (error) {
          button.replaceWith(errorPanel(error));
        }
      },
    },
    label,
  );
}
