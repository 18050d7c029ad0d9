/* eslint-disable @typescript-eslint/no-explicit-any */
import { describe, expect, it, vi } from "vitest";
import {
  ApiClient,
  ForbiddenError,
  NetworkError,
  UnauthorizedError,
  UnavailableError,
  ValidationError,
  parseRetryAfter,
  type ClientOptions,
} from "../src/api";

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === null ? null : JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

function client(responses: Array<Response | Error>, extra: Partial<ClientOptions> = {}) {
  const fetch = vi.fn(async () => {
    const next = responses.shift();
    if (!next) throw new Error("no more responses");
    if (next instanceof Error) throw next;
    return next;
  });
  const sleeps: number[] = [];
  const onUnauthorized = vi.fn();
  const api = new ApiClient({
    baseUrl: "http://api.test/dev",
    getToken: () => "tok",
    onUnauthorized,
    fetch: fetch as unknown as typeof globalThis.fetch,
    sleep: async (ms) => void sleeps.push(ms),
    random: () => 0.5,
    ...extra,
  });
  return { api, fetch, sleeps, onUnauthorized };
}

const unavailable = () => json(503, { error: "dependency_unavailable", message: "MongoDB is unavailable", details: [] }, { "Retry-After": "5" });

describe("reads retry", () => {
  it("retries a 503 after Retry-After seconds and returns the later success", async () => {
    const { api, fetch, sleeps } = client([unavailable(), json(200, { ok: true })]);
    await expect(api.get("/models/")).resolves.toEqual({ ok: true });
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(sleeps).toEqual([5000]);
  });

  it("gives up after three attempts with an UnavailableError carrying Retry-After", async () => {
    const { api, fetch, sleeps } = client([unavailable(), unavailable(), unavailable(), json(200, {})]);
    const error: any = await api.get("/models/").catch((e: unknown) => e as any);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.retryAfterSeconds).toBe(5);
    expect(error.message).toBe("MongoDB is unavailable");
    expect(fetch).toHaveBeenCalledTimes(3);
    expect(sleeps).toHaveLength(2);
  });

  it("backs off exponentially without Retry-After, capped", async () => {
    const { api, sleeps } = client([json(502, {}), json(504, {}), json(200, {})], { baseDelayMs: 400, maxAttempts: 3 });
    await api.get("/x");
    expect(sleeps).toEqual([300, 600]); // half the ceiling plus jitter 0.5 × half: 400 → 300, 800 → 600
    const capped = client([json(503, {}, { "Retry-After": "120" }), json(200, {})], { maxDelayMs: 10_000 });
    await capped.api.get("/x");
    expect(capped.sleeps).toEqual([10_000]);
  });

  it("retries network errors, then reports the lost connection", async () => {
    const online = vi.fn();
    const { api, fetch } = client([new TypeError("Failed to fetch"), new TypeError("Failed to fetch"), new TypeError("Failed to fetch")], { onConnectivity: online });
    const error: any = await api.get("/models/").catch((e: unknown) => e as any);
    expect(error).toBeInstanceOf(NetworkError);
    expect(fetch).toHaveBeenCalledTimes(3);
    expect(online).toHaveBeenCalledWith(false);
    expect(online).not.toHaveBeenCalledWith(true);
  });

  it("does not retry other errors", async () => {
    const { api, fetch } = client([json(404, { error: "not_found", message: "No model" })]);
    await expect(api.get("/models/x")).rejects.toMatchObject({ status: 404, code: "not_found" });
    expect(fetch).toHaveBeenCalledTimes(1);
  });
});

describe("writes never retry by themselves", () => {
  for (const failure of [() => unavailable(), () => new TypeError("Failed to fetch")]) {
    it(`POST fails at once on ${failure() instanceof Error ? "a network error" : "503"}`, async () => {
      const { api, fetch, sleeps } = client([failure(), json(201, {})]);
      await expect(api.post("/models/", { a: 1 })).rejects.toBeInstanceOf(failure() instanceof Error ? NetworkError : UnavailableError);
      expect(fetch).toHaveBeenCalledTimes(1);
      expect(sleeps).toEqual([]);
    });
  }

  it("PATCH and DELETE fail at once too", async () => {
    const { api, fetch } = client([unavailable(), unavailable()]);
    await expect(api.patch("/models/x", {})).rejects.toBeInstanceOf(UnavailableError);
    await expect(api.delete("/models/x")).rejects.toBeInstanceOf(UnavailableError);
    expect(fetch).toHaveBeenCalledTimes(2);
  });
});

describe("401 goes back to sign-in", () => {
  it("calls onUnauthorized and throws when there is no refresh", async () => {
    const { api, onUnauthorized, fetch } = client([json(401, { error: "unauthorized", message: "Invalid or expired credentials" })]);
    await expect(api.get("/models/")).rejects.toBeInstanceOf(UnauthorizedError);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it("sends the request once more after a successful refresh, also a write", async () => {
    let token = "old";
    const refresh = vi.fn(async () => ((token = "new"), true));
    const { api, onUnauthorized, fetch } = client([json(401, {}), json(201, { id: "m" })], { refresh, getToken: () => token });
    await expect(api.post("/models/", {})).resolves.toEqual({ id: "m" });
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(onUnauthorized).not.toHaveBeenCalled();
    const calls = fetch.mock.calls as unknown as Array<[string, RequestInit]>;
    expect((calls[1][1].headers as Record<string, string>).Authorization).toBe("Bearer new");
  });

  it("goes to sign-in when the refreshed token is refused too (no loop)", async () => {
    const refresh = vi.fn(async () => true);
    const { api, onUnauthorized, fetch } = client([json(401, {}), json(401, {})], { refresh });
    await expect(api.get("/models/")).rejects.toBeInstanceOf(UnauthorizedError);
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it("goes to sign-in when the refresh fails", async () => {
    const { api, onUnauthorized } = client([json(401, {})], { refresh: async () => false });
    await expect(api.get("/models/")).rejects.toBeInstanceOf(UnauthorizedError);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
  });
});

describe("other answers", () => {
  it("403 names what is missing and never redirects", async () => {
    const { api, onUnauthorized } = client([json(403, { error: "forbidden", message: "This operation needs the admin role" })]);
    const error: any = await api.post("/models/", {}).catch((e: unknown) => e as ValidationError & ForbiddenError);
    expect(error).toBeInstanceOf(ForbiddenError);
    expect(error.missing).toBe("This operation needs the admin role");
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it("422 maps each field the API names to its message", async () => {
    const body = {
      error: "validation_error",
      message: "Invalid request: lookback_window, rnn_layers.0.units",
      details: [
        { field: "lookback_window", message: "Input should be greater than or equal to 1" },
        { field: "rnn_layers.0.units", message: "Input should be a valid integer" },
      ],
    };
    const { api } = client([json(422, body)]);
    const error: any = await api.post("/models/", {}).catch((e: unknown) => e as ValidationError & ForbiddenError);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.fieldErrors).toEqual({
      lookback_window: "Input should be greater than or equal to 1",
      "rnn_layers.0.units": "Input should be a valid integer",
    });
  });

  it("sends the bearer token in the header, never cookies, and encodes the query", async () => {
    const { api, fetch } = client([json(200, { items: [] })]);
    await api.get("/devices/", { query: { service: "energy", servicepath: "/a b", empty: "" } });
    const [url, init] = (fetch.mock.calls as unknown as Array<[string, RequestInit]>)[0];
    expect(url).toBe("http://api.test/dev/devices/?service=energy&servicepath=%2Fa+b");
    expect(init.credentials).toBe("omit");
    expect((init.headers as Record<string, string>).Authorization).toBe("Bearer tok");
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    expect(parseRetryAfter("7")).toBe(7);
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter("soon")).toBeNull();
    expect(parseRetryAfter(new Date(10_000 + 30_000).toUTCString(), 10_000)).toBe(30);
  });
});
