/**
 * Sign-in with OpenID Connect: authorization code flow with PKCE (S256), for a public client.
 *
 * Tokens live in sessionStorage (this tab only, gone when it closes; never a cookie). The same
 * code runs against Cognito's hosted UI in AWS and the development provider locally
 * (local/dev_idp.py): both are found through `<authority>/.well-known/openid-configuration`.
 */

export interface OidcConfig {
  authority: string;
  client_id: string;
  scope: string;
  bearer_token: "access_token" | "id_token";
}

interface Discovery {
  authorization_endpoint: string;
  token_endpoint: string;
  end_session_endpoint?: string;
}

interface TokenSet {
  access_token: string;
  id_token?: string;
  refresh_token?: string;
  expires_at: number; // epoch ms
}

export interface Identity {
  subject: string;
  roles: string[];
  tenants: string[];
}

const TOKENS = "chronos.tokens";
const PENDING = "chronos.signin";

function base64url(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(size = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(size)));
}

export async function pkceChallenge(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/** The claims of a JWT, without verifying it (the API verifies; this is for display only). */
export function jwtClaims(token: string): Record<string, unknown> {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(decodeURIComponent(escape(atob(payload)))) as Record<string, unknown>;
  } catch {
    return {};
  }
}

function asList(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === "string") return value.split(/[ ,]+/).filter(Boolean);
  return [];
}

export class Auth {
  private discovery: Promise<Discovery> | null = null;
  private refreshing: Promise<boolean> | null = null;
  private signingIn: Promise<void> | null = null;

  constructor(
    readonly config: OidcConfig,
    /** The dashboard's root URL (…/ui/); the redirect URI is `<root>callback`. */
    readonly appRoot: string,
    private readonly storage: Storage = sessionStorage,
    /** Leave for the provider's page (a full navigation). */
    private readonly navigate: (url: string) => void = (url) => window.location.assign(url),
  ) {
    // A page restored from the back/forward cache left for the provider once: let it go again.
    if (typeof window !== "undefined") {
      window.addEventListener("pageshow", (event) => {
        if (event.persisted) this.signingIn = null;
      });
    }
  }

  get redirectUri(): string {
    return new URL("callback", this.appRoot).toString();
  }

  private discover(): Promise<Discovery> {
    this.discovery ??= fetch(`${this.config.authority.replace(/\/$/, "")}/.well-known/openid-configuration`, {
      credentials: "omit",
    })
      .then(async (r) => {
        if (!r.ok) throw new Error(`The sign-in provider answered ${r.status}`);
        return (await r.json()) as Discovery;
      })
      .catch((error: unknown) => {
        this.discovery = null; // not cached: the next sign-in asks again
        throw error;
      });
    return this.discovery;
  }

  private tokens(): TokenSet | null {
    const raw = this.storage.getItem(TOKENS);
    return raw ? (JSON.parse(raw) as TokenSet) : null;
  }

  /** The token the API gets as bearer (configured: the access token, or Cognito's ID token). */
  token(): string | null {
    const tokens = this.tokens();
    if (!tokens) return null;
    return this.config.bearer_token === "id_token" ? (tokens.id_token ?? null) : tokens.access_token;
  }

  identity(): Identity | null {
    const token = this.token();
    if (!token) return null;
    const claims = jwtClaims(token);
    const roles = asList(claims["chronos:roles"] ?? claims["cognito:groups"]);
    const tenants = asList(claims["chronos:tenants"] ?? claims["custom:tenants"]);
    return { subject: String(claims.name ?? claims["cognito:username"] ?? claims.sub ?? "?"), roles, tenants };
  }

  /**
   * Go to the provider's sign-in page; come back to `returnTo` (a path under the app root).
   *
   * Once per page: concurrent calls (several requests answered 401 together) share the first
   * one's redirect. A second authorization request would abort the first navigation and replace
   * the stored state and verifier, so the provider's answer to either could fail the state check.
   */
  signIn(returnTo: string): Promise<void> {
    this.signingIn ??= this.redirectToSignIn(returnTo).catch((error: unknown) => {
      this.signingIn = null; // e.g. discovery failed: a later attempt may go
      throw error;
    });
    return this.signingIn;
  }

  private async redirectToSignIn(returnTo: string): Promise<void> {
    const discovery = await this.discover();
    const verifier = randomString(48);
    const state = randomString(16);
    this.storage.setItem(PENDING, JSON.stringify({ state, verifier, returnTo }));
    const url = new URL(discovery.authorization_endpoint);
    url.search = new URLSearchParams({
      response_type: "code",
      client_id: this.config.client_id,
      redirect_uri: this.redirectUri,
      scope: this.config.scope,
      state,
      code_challenge: await pkceChallenge(verifier),
      code_challenge_method: "S256",
    }).toString();
    this.navigate(url.toString());
  }

  /** Finish a sign-in at the callback URL; returns the path to go back to. */
  async completeSignIn(callbackUrl: string): Promise<string> {
    const params = new URL(callbackUrl).searchParams;
    const pending = JSON.parse(this.storage.getItem(PENDING) ?? "null") as {
      state: string;
      verifier: string;
      returnTo: string;
    } | null;
    this.storage.removeItem(PENDING);
    if (params.get("error")) throw new Error(`Sign-in failed: ${params.get("error_description") ?? params.get("error")}`);
    if (!pending || params.get("state") !== pending.state) throw new Error("Sign-in failed: the state does not match");
    await this.tokenRequest({
      grant_type: "authorization_code",
      code: params.get("code") ?? "",
      redirect_uri: this.redirectUri,
      client_id: this.config.client_id,
      code_verifier: pending.verifier,
    });
    return pending.returnTo || "";
  }

  /** Use the refresh token once (concurrent callers share it); false when there is none or it fails. */
  refresh(): Promise<boolean> {
    const refreshToken = this.tokens()?.refresh_token;
    if (!refreshToken) return Promise.resolve(false);
    this.refreshing ??= this.tokenRequest({
      grant_type: "refresh_token",
      refresh_token: refreshToken,
      client_id: this.config.client_id,
    })
      .then(() => true)
      .catch(() => {
        this.storage.removeItem(TOKENS);
        return false;
      })
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  /** Forget the tokens (the API refused them), but not a sign-in already under way. */
  expire(): void {
    this.storage.removeItem(TOKENS);
  }

  signOut(): void {
    this.storage.removeItem(TOKENS);
    this.storage.removeItem(PENDING);
  }

  private async tokenRequest(form: Record<string, string>): Promise<void> {
    const discovery = await this.discover();
    const response = await fetch(discovery.token_endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form).toString(),
      credentials: "omit",
    });
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok) throw new Error(`Sign-in failed: ${String(body.error_description ?? body.error ?? response.status)}`);
    const previous = this.tokens();
    const tokens: TokenSet = {
      access_token: String(body.access_token),
      id_token: body.id_token ? String(body.id_token) : previous?.id_token,
      refresh_token: body.refresh_token ? String(body.refresh_token) : previous?.refresh_token,
      expires_at: Date.now() + Number(body.expires_in ?? 3600) * 1000,
    };
    this.storage.setItem(TOKENS, JSON.stringify(tokens));
  }
}
