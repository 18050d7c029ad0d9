/**
 * The Chronos API client: the one place that decides what happens when a call fails.
 *
 * Rules (unit-tested in test/api.test.ts):
 * - Reads (GET, HEAD) are idempotent: on 502/503/504 or a network error they are retried, at most
 *   `maxAttempts` attempts in all, after `Retry-After` seconds when the answer gives it (capped at
 *   `maxDelayMs`), else after an exponential backoff with jitter.
 * - Writes (POST, PATCH, PUT, DELETE) are never retried by themselves: the user retries them.
 * - 401: the request was not executed (the API authenticates before anything else). When a token
 *   refresh succeeds the request is sent once more; otherwise `onUnauthorized` runs (back to
 *   sign-in, then to the page) and an UnauthorizedError is thrown.
 * - 403: a ForbiddenError naming the missing role or tenant; no redirect.
 * - 422: a ValidationError whose `fieldErrors` map each field the API named to its message.
 * - Every answer tells `onConnectivity(true)`, every network failure `onConnectivity(false)`.
 */

export interface ErrorDetail {
  field?: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export class UnauthorizedError extends ApiError {}

export class ForbiddenError extends ApiError {
  /** What the caller lacks, for people: "the operator role", "access to tenant energy"... */
  get missing(): string {
    return this.message;
  }
}

export class ValidationError extends ApiError {
  /** Field name (as the API names it, e.g. `lookback_window`, `rnn_layers.0.units`) -> message. */
  get fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const d of this.details) {
      const field = d.field ?? "body";
      out[field] = out[field] ? `${out[field]}; ${d.message}` : d.message;
    }
    return out;
  }
}

/** The API or a dependency behind it is down (502/503/504): show a friendly message and a retry. */
export class UnavailableError extends ApiError {}

/** No answer at all: the connection is lost. */
export class NetworkError extends ApiError {
  constructor(message = "The connection to Chronos is lost") {
    super(0, "network_error", message);
  }
}

export type Method = "GET" | "HEAD" | "POST" | "PATCH" | "PUT" | "DELETE";

export interface ClientOptions {
  /** The API's base URL (the stage root), without a trailing slash. */
  baseUrl: string;
  /** The bearer token to send, or null when signed out. */
  getToken: () => string | null;
  /** Try to get a new token (refresh grant); true when one was obtained. */
  refresh?: () => Promise<boolean>;
  /** Called on a 401 that a refresh could not mend: sign in again, then return to the page. */
  onUnauthorized: () => void;
  onConnectivity?: (online: boolean) => void;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined | null>;
  body?: unknown;
  signal?: AbortSignal;
}

const RETRYABLE = new Set([502, 503, 504]);
const IDEMPOTENT = new Set<Method>(["GET", "HEAD"]);

export function isIdempotent(method: Method): boolean {
  return IDEMPOTENT.has(method);
}

/** Seconds from a Retry-After header (delta-seconds or an HTTP date), or null. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value == null || value.trim() === "") return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

export class ApiClient {
  private readonly options: Required<Omit<ClientOptions, "refresh" | "onConnectivity">> &
    Pick<ClientOptions, "refresh" | "onConnectivity">;

  constructor(options: ClientOptions) {
    this.options = {
      fetch: (input, init) => globalThis.fetch(input, init),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      random: Math.random,
      maxAttempts: 3,
      baseDelayMs: 500,
      maxDelayMs: 10_000,
      ...options,
    };
  }

  get<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return this.request<T>("GET", path, options);
  }

  post<T>(path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    return this.request<T>("POST", path, { ...options, body });
  }

  patch<T>(path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    return this.request<T>("PATCH", path, { ...options, body });
  }

  delete<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return this.request<T>("DELETE", path, options);
  }

  /** The delay before retry number `attempt` (1 = the first retry). */
  backoffMs(attempt: number, retryAfterSeconds: number | null): number {
    const { baseDelayMs, maxDelayMs, random } = this.options;
    if (retryAfterSeconds != null) return Math.min(retryAfterSeconds * 1000, maxDelayMs);
    const ceiling = Math.min(baseDelayMs * 2 ** (attempt - 1), maxDelayMs);
    return Math.round(ceiling / 2 + (random() * ceiling) / 2);
  }

  url(path: string, query?: RequestOptions["query"]): string {
    const url = new URL(this.options.baseUrl.replace(/\/$/, "") + path);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, String(value));
    }
    return url.toString();
  }

  async request<T>(method: Method, path: string, options: RequestOptions = {}): Promise<T> {
    const retries = isIdempotent(method) ? this.options.maxAttempts : 1;
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await this.send(method, path, options);
      } catch (error) {
        if ((error as Error)?.name === "AbortError") throw error;
        this.options.onConnectivity?.(false);
        if (attempt < retries) {
          await this.options.sleep(this.backoffMs(attempt, null));
          continue;
        }
        throw new NetworkError();
      }
      this.options.onConnectivity?.(true);
      if (response.ok) return (await readBody(response)) as T;
      const error = await toError(response);
      if (error instanceof UnauthorizedError) {
        if (!refreshed && this.options.refresh && (await this.options.refresh().catch(() => false))) {
          refreshed = true; // the request was not executed: sending it again is safe, once
          attempt--;
          continue;
        }
        this.options.onUnauthorized();
        throw error;
      }
      if (RETRYABLE.has(response.status) && attempt < retries) {
        await this.options.sleep(this.backoffMs(attempt, error.retryAfterSeconds));
        continue;
      }
      throw error;
    }
  }

  private send(method: Method, path: string, options: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = { Accept: "application/json" };
    const token = this.options.getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.body);
    }
    return this.options.fetch(this.url(path, options.query), {
      method,
      headers,
      body,
      signal: options.signal,
      credentials: "omit", // tokens travel in the header only, never in cookies
      cache: "no-store",
    });
  }
}

async function readBody(response: Response): Promise<unknown> {
  if (response.status === 204) return null;
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function toError(response: Response): Promise<ApiError> {
  const body = (await readBody(response).catch(() => null)) as {
    error?: string;
    message?: string;
    details?: ErrorDetail[];
  } | null;
  const code = body?.error ?? `http_${response.status}`;
  const message = body?.message ?? (response.statusText || `HTTP ${response.status}`);
  const details = Array.isArray(body?.details) ? body!.details! : [];
  const retryAfter = parseRetryAfter(response.headers.get("Retry-After"));
  const args = [response.status, code, message, details, retryAfter] as const;
  switch (response.status) {
    case 401:
      return new UnauthorizedError(...args);
    case 403:
      return new ForbiddenError(...args);
    case 422:
      return new ValidationError(...args);
    case 502:
    case 503:
    case 504:
      return new UnavailableError(...args);
    default:
      return new ApiError(...args);
  }
}
