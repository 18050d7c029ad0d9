/** The Chronos dashboard: boot, sign-in, navigation, connectivity. */
import "./styles.css";
import { ApiClient } from "./api";
import type { App } from "./app";
import { Auth, type OidcConfig } from "./auth";
import { disposeCharts } from "./chart";
import { EXTENSIONS } from "./extensions";
import { devicesPage } from "./pages/devices";
import { forecastsPage } from "./pages/forecasts";
import { modelPage } from "./pages/model";
import { overviewPage } from "./pages/overview";
import { Router } from "./router";
import { el, errorPanel, replace } from "./ui";

const mount = document.getElementById("app")!;
/** …/ui/ whatever the stage prefix: index.html gets a relative <base href> from the server. */
const ROOT = new URL("./", document.baseURI).toString();
const API_BASE = new URL("../", ROOT).toString().replace(/\/$/, "");

async function loadConfig(): Promise<OidcConfig> {
  const response = await fetch(new URL("config.json", ROOT), { cache: "no-store", credentials: "omit" });
  if (!response.ok) throw new Error(`config.json answered ${response.status}`);
  return (await response.json()) as OidcConfig;
}

function banner(): HTMLElement {
  return el("div", { id: "connection", class: "connection", hidden: true, role: "status" }, "Connection lost: Chronos cannot be reached. Retrying…");
}

async function boot(): Promise<void> {
  let config: OidcConfig;
  try {
    config = await loadConfig();
  } catch (error) {
    replace(mount, errorPanel(error, () => void boot()));
    return;
  }
  const auth = new Auth(config, ROOT);
  const router = new Router(ROOT);
  const connection = banner();
  const setOnline = (online: boolean) => (connection.hidden = online);
  window.addEventListener("offline", () => setOnline(false));

  let generation = 0;
  const app: App = {
    auth,
    router,
    api: new ApiClient({
      baseUrl: API_BASE,
      getToken: () => auth.token(),
      refresh: () => auth.refresh(),
      onUnauthorized: () => {
        auth.expire(); // each refused request lands here; they share one sign-in (Auth.signIn)
        void auth.signIn(router.current() + window.location.search); // back to this page afterwards
      },
      onConnectivity: setOnline,
    }),
    poll(tick, ms) {
      const mine = generation;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let stopped = false;
      const loop = async () => {
        if (stopped || mine !== generation) return;
        const again = await tick().catch(() => true);
        if (again && !stopped && mine === generation) timer = setTimeout(loop, ms);
      };
      timer = setTimeout(loop, ms);
      return { stop: () => ((stopped = true), clearTimeout(timer)) };
    },
  };

  router
    .add("", () => overviewPage(app))
    .add("models", () => overviewPage(app))
    .add("devices", (_, q) => devicesPage(app, q))
    .add("models/:id", (p) => modelPage(app, p.id))
    .add("models/:id/jobs/:job/forecasts", (p) => forecastsPage(app, p.id, p.job))
    .fallback(() => el("div", { class: "page" }, el("h1", {}, "Not found"), el("p", {}, el("a", { href: "./", "data-link": true }, "Back to the overview"))));
  for (const ext of EXTENSIONS) {
    router.add(ext.path, (p, q) => ext.page(app, p, q));
  }

  const content = el("main", { id: "content" });
  const who = el("span", { class: "who" });
  const signOut = el("button", { id: "sign-out", class: "link" }, "Sign out");
  signOut.addEventListener("click", () => {
    auth.signOut();
    showSignedOut("You are signed out.");
  });
  const nav = el(
    "nav",
    {},
    el("a", { href: "./", "data-link": true, class: "brand" }, "Chronos"),
    el("a", { href: "./", "data-link": true }, "Overview"),
    el("a", { href: "devices", "data-link": true }, "Devices"),
    ...EXTENSIONS.map((ext) => el("a", { href: ext.path, "data-link": true, class: "extension" }, ext.label)),
    el("span", { class: "spacer" }),
    who,
    signOut,
  );

  function showSignedOut(message: string): void {
    const button = el("button", { id: "sign-in" }, "Sign in");
    button.addEventListener("click", () => void auth.signIn(router.current() === "callback" ? "" : router.current() + window.location.search));
    replace(mount, el("div", { class: "signin page" }, el("h1", {}, "Chronos"), el("p", {}, message), button));
  }

  async function show(path: string): Promise<void> {
    generation++;
    disposeCharts();
    const identity = auth.identity();
    who.textContent = identity ? `${identity.subject} · ${identity.roles.join(", ")} · tenants ${identity.tenants.join(", ")}` : "";
    for (const a of nav.querySelectorAll("a")) a.classList.toggle("active", a.getAttribute("href") === (path || "./"));
    const query = new URLSearchParams(window.location.search);
    const { page, params } = router.resolve(path);
    replace(content, await page(params, query));
  }
  router.onNavigate = (path) => void show(path);
  router.listen();

  if (router.current() === "callback") {
    try {
      const back = await auth.completeSignIn(window.location.href);
      history.replaceState(null, "", router.href(back));
    } catch (error) {
      showSignedOut((error as Error).message);
      return;
    }
  }
  if (!auth.token()) {
    showSignedOut("Sign in to see your models, devices and forecasts.");
    return;
  }
  replace(mount, connection, nav, content);
  await show(router.current());
}

void boot();
