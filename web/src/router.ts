/** History routing under the app root (…/ui/), whatever prefix the API Gateway stage adds. */

export type Params = Record<string, string>;
export type Page = (params: Params, query: URLSearchParams) => HTMLElement | Promise<HTMLElement>;

interface Route {
  pattern: RegExp;
  keys: string[];
  page: Page;
}

export class Router {
  private routes: Route[] = [];
  private notFound: Page = () => document.createElement("div");
  onNavigate: (path: string) => void = () => {};

  constructor(readonly root: string) {}

  /** `pattern` like "models/:id/jobs/:job"; "" is the overview. */
  add(pattern: string, page: Page): this {
    const keys: string[] = [];
    const source = pattern
      .split("/")
      .map((part) => (part.startsWith(":") ? (keys.push(part.slice(1)), "([^/]+)") : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
      .join("/");
    this.routes.push({ pattern: new RegExp(`^${source}$`), keys, page });
    return this;
  }

  fallback(page: Page): this {
    this.notFound = page;
    return this;
  }

  /** The current path relative to the root ("models/abc"), without a leading slash. */
  current(): string {
    const rootPath = new URL(this.root).pathname;
    const path = window.location.pathname;
    return path.startsWith(rootPath) ? path.slice(rootPath.length) : "";
  }

  href(path: string): string {
    return new URL(path.replace(/^\//, ""), this.root).toString();
  }

  go(path: string, replaceState = false): void {
    const url = this.href(path);
    if (replaceState) history.replaceState(null, "", url);
    else history.pushState(null, "", url);
    this.onNavigate(this.current());
  }

  resolve(path: string): { page: Page; params: Params } {
    const clean = path.replace(/\/$/, "");
    for (const route of this.routes) {
      const match = route.pattern.exec(clean);
      if (match) {
        const params: Params = {};
        route.keys.forEach((key, i) => (params[key] = decodeURIComponent(match[i + 1])));
        return { page: route.page, params };
      }
    }
    return { page: this.notFound, params: {} };
  }

  /** Follow clicks on in-app links (`<a data-link>`) and the back button. */
  listen(): void {
    document.addEventListener("click", (event) => {
      const anchor = (event.target as Element)?.closest?.("a[data-link]") as HTMLAnchorElement | null;
      if (!anchor || event.metaKey || event.ctrlKey || event.button !== 0) return;
      event.preventDefault();
      this.go(anchor.getAttribute("href") ?? "");
    });
    window.addEventListener("popstate", () => this.onNavigate(this.current()));
  }
}
