/**
 * The dashboard's HTTP client. The access token lives only in this object's memory; the refresh
 * token in an httpOnly cookie scoped to /api/v1/auth/session that script never sees. A reload
 * restores the session by one refresh (the cookie goes along by itself). Refreshes are serialised
 * across tabs with a Web Lock: two tabs presenting the same refresh token would look like token
 * reuse to the server, which then revokes the whole login.
 */
import type { FieldProblem } from "../../contracts/problems.ts";

export type { FieldProblem };

export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  errors?: FieldProblem[];
}

export class ApiError extends Error {
  readonly status: number;
  readonly errors: FieldProblem[];
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail ?? problem.title ?? `HTTP ${problem.status}`);
    this.name = "ApiError";
    this.status = problem.status;
    this.errors = problem.errors ?? [];
    this.problem = problem;
  }
}

import type { Role } from "../../contracts/roles.ts";
import type { PublicUser } from "../../contracts/users.ts";

export type { Role };

/** An account as the API answers it (contracts/users.ts). */
export type User = PublicUser;

interface AccessToken {
  accessToken: string;
  expiresIn: number;
}

const SESSION_HEADERS = { "x-proxima-session": "1" };
/** Refresh this long before the access token expires, so that no request carries a dying token. */
const EARLY_REFRESH_MS = 30_000;

export class Api {
  private accessToken: string | null = null;
  private expiresAt = 0;
  private refreshing: Promise<boolean> | null = null;
  me: User | null = null;
  /** Called when the session is gone (refresh refused): the app shows the login page. */
  onSessionLost: () => void = () => {};

  get loggedIn(): boolean {
    return this.me !== null;
  }

  async login(email: string, password: string): Promise<User> {
    const token = await this.send<AccessToken>("POST", "/api/v1/auth/session", {
      body: { email, password },
      headers: SESSION_HEADERS,
      auth: false,
    });
    this.setToken(token);
    this.me = await this.get<User>("/api/v1/me");
    return this.me;
  }

  register(email: string, password: string, name: string): Promise<User> {
    return this.send<User>("POST", "/api/v1/auth/register", { body: { email, password, name }, auth: false });
  }

  async logout(): Promise<void> {
    try {
      await this.send("POST", "/api/v1/auth/session/logout", { headers: SESSION_HEADERS, auth: false });
    } finally {
      this.accessToken = null;
      this.me = null;
    }
  }

  /** After a reload: one refresh through the cookie; false when there is no session. */
  async restore(): Promise<boolean> {
    if (!/(?:^|; )proxima_session=1(?:;|$)/.test(document.cookie)) return false;
    if (!(await this.refresh())) return false;
    this.me = await this.get<User>("/api/v1/me");
    return true;
  }

  /** A valid access token, refreshed first when it is about to expire. */
  async token(): Promise<string> {
    if (!this.accessToken || Date.now() > this.expiresAt - EARLY_REFRESH_MS) {
      if (!(await this.refresh())) throw new ApiError({ status: 401, detail: "the session has ended" });
    }
    return this.accessToken!;
  }

  refresh(): Promise<boolean> {
    this.refreshing ??= this.lock(async () => {
      try {
        const token = await this.send<AccessToken>("POST", "/api/v1/auth/session/refresh", {
          headers: SESSION_HEADERS,
          auth: false,
        });
        this.setToken(token);
        return true;
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) {
          this.accessToken = null;
          return false;
        }
        throw err;
      }
    }).finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  get<T>(path: string): Promise<T> {
    return this.send<T>("GET", path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.send<T>("POST", path, { body });
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.send<T>("PATCH", path, { body });
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.send<T>("PUT", path, { body });
  }

  delete<T>(path: string): Promise<T> {
    return this.send<T>("DELETE", path);
  }

  /** An authenticated download: the token goes in a header, never in a URL. */
  async download(path: string, fallbackName: string): Promise<void> {
    const response = await this.fetchAuthed("GET", path, {});
    if (!response.ok) throw await toError(response);
    const disposition = response.headers.get("content-disposition") ?? "";
    const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? fallbackName;
    const url = URL.createObjectURL(await response.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  async send<T>(
    method: string,
    path: string,
    opts: { body?: unknown; headers?: Record<string, string>; auth?: boolean } = {},
  ): Promise<T> {
    let response = await this.fetchAuthed(method, path, opts);
    if (response.status === 401 && opts.auth !== false && this.me) {
      // The token expired between our check and the server's (or the server restarted with new
      // state): one refresh, one retry.
      if (await this.refresh()) response = await this.fetchAuthed(method, path, opts);
      else this.lost();
    }
    if (!response.ok) throw await toError(response);
    if (response.status === 204) return undefined as T;
    const type = response.headers.get("content-type") ?? "";
    return (type.includes("json") ? await response.json() : await response.text()) as T;
  }

  private async fetchAuthed(
    method: string,
    path: string,
    opts: { body?: unknown; headers?: Record<string, string>; auth?: boolean },
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json", ...opts.headers };
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    if (opts.auth !== false) {
      try {
        headers["authorization"] = `Bearer ${await this.token()}`;
      } catch (err) {
        this.lost();
        throw err;
      }
    }
    return fetch(path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      credentials: "same-origin",
    });
  }

  private setToken(token: AccessToken): void {
    this.accessToken = token.accessToken;
    this.expiresAt = Date.now() + token.expiresIn * 1000;
  }

  private lost(): void {
    if (this.me === null) return;
    this.me = null;
    this.accessToken = null;
    this.onSessionLost();
  }

  private lock<T>(fn: () => Promise<T>): Promise<T> {
    return navigator.locks ? navigator.locks.request("proxima-session-refresh", fn) : fn();
  }
}

async function toError(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as Problem;
    return new ApiError({ ...body, status: response.status });
  } catch {
    return new ApiError({
      status: response.status,
      detail: response.statusText || `HTTP ${response.status}`,
    });
  }
}
