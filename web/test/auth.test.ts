import { afterEach, describe, expect, it, vi } from "vitest";
import { Auth, pkceChallenge } from "../src/auth";

class MemoryStorage implements Storage {
  private readonly items = new Map<string, string>();
  get length(): number {
    return this.items.size;
  }
  clear(): void {
    this.items.clear();
  }
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  key(index: number): string | null {
    return [...this.items.keys()][index] ?? null;
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
}

const AUTHORITY = "http://idp.test";
const CONFIG = { authority: AUTHORITY, client_id: "chronos-dashboard", scope: "openid", bearer_token: "access_token" } as const;

function provider() {
  const fetch = vi.fn(async (input: string | URL | Request) => {
    expect(String(input)).toBe(`${AUTHORITY}/.well-known/openid-configuration`);
    await new Promise((resolve) => setTimeout(resolve, 5)); // answers after the other 401s arrive
    return new Response(JSON.stringify({ authorization_endpoint: `${AUTHORITY}/authorize`, token_endpoint: `${AUTHORITY}/token` }), {
      status: 200,
      headers: { "Content-Type": "application/json" },
    });
  });
  vi.stubGlobal("fetch", fetch);
  return fetch;
}

afterEach(() => vi.unstubAllGlobals());

describe("Auth.signIn", () => {
  it("sends the browser to the provider once when several requests are refused together", async () => {
    provider();
    const storage = new MemoryStorage();
    storage.setItem("chronos.tokens", JSON.stringify({ access_token: "expired", expires_at: 0 }));
    const navigate = vi.fn();
    const auth = new Auth(CONFIG, "http://app.test/dev/ui/", storage, navigate);

    // What the client's onUnauthorized does for each of three refused reads.
    const attempts = ["models/m-1/forecasts", "models/m-1/forecasts", "models/m-1/forecasts"].map((page) => {
      auth.expire();
      return auth.signIn(page);
    });
    await Promise.all(attempts);

    expect(navigate).toHaveBeenCalledTimes(1);
    const url = new URL(navigate.mock.calls[0][0] as string);
    expect(url.origin + url.pathname).toBe(`${AUTHORITY}/authorize`);
    expect(url.searchParams.get("redirect_uri")).toBe("http://app.test/dev/ui/callback");
    // The pending sign-in survives the later 401s and matches the one request that went out.
    const pending = JSON.parse(storage.getItem("chronos.signin") ?? "null");
    expect(pending?.state).toBe(url.searchParams.get("state"));
    expect(await pkceChallenge(pending.verifier)).toBe(url.searchParams.get("code_challenge"));
    expect(pending.returnTo).toBe("models/m-1/forecasts");
    expect(storage.getItem("chronos.tokens")).toBeNull();
  });

  it("may try again after a failed attempt", async () => {
    const fetch = vi.fn(async () => new Response("down", { status: 503 }));
    vi.stubGlobal("fetch", fetch);
    const navigate = vi.fn();
    const auth = new Auth(CONFIG, "http://app.test/ui/", new MemoryStorage(), navigate);
    await expect(auth.signIn("")).rejects.toThrow("503");
    provider();
    await auth.signIn("");
    expect(navigate).toHaveBeenCalledTimes(1);
  });
});
