import { type FieldProblem, plainFieldMessage } from "../../contracts/problems.ts";
import { type Credentials, loadCredentials, saveCredentials } from "./credentials.ts";

/**
 * The remote CLI's HTTP client: the stored access token, renewed with the stored refresh token when
 * it is about to expire or is refused, the rotated pair saved at once (a refresh token works once).
 * Server errors become `ProblemError`s carrying the problem+json `detail` and field problems.
 */
export type { FieldProblem };

export class ProblemError extends Error {
  override name = "ProblemError";
  readonly status: number;
  readonly errors: FieldProblem[];
  constructor(status: number, detail: string, errors: FieldProblem[] = []) {
    super(detail);
    this.status = status;
    this.errors = errors;
  }
}

interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

const EARLY_REFRESH_MS = 30_000;

export function normaliseServer(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`--server must be a URL such as http://localhost:3000, got "${url}"`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new Error(`--server must be an http or https URL, got "${url}"`);
  }
  return parsed.origin + parsed.pathname.replace(/\/+$/, "");
}

async function problemOf(response: Response): Promise<ProblemError> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { detail?: string; title?: string; errors?: FieldProblem[] };
    return new ProblemError(
      response.status,
      body.detail ?? body.title ?? `HTTP ${response.status}`,
      Array.isArray(body.errors) ? body.errors : [],
    );
  } catch {
    return new ProblemError(response.status, `HTTP ${response.status} ${response.statusText}`.trim());
  }
}

async function send(server: string, method: string, path: string, token?: string, body?: unknown) {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers["authorization"] = `Bearer ${token}`;
  try {
    return await fetch(`${server}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`cannot reach ${server}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  }
}

/** Logs in with email and password; returns the credentials to store. */
export async function login(server: string, email: string, password: string): Promise<Credentials> {
  const response = await send(server, "POST", "/api/v1/auth/login", undefined, { email, password });
  if (!response.ok) throw await problemOf(response);
  const pair = (await response.json()) as TokenPair;
  return {
    server,
    email,
    accessToken: pair.accessToken,
    refreshToken: pair.refreshToken,
    expiresAt: Date.now() + pair.expiresIn * 1000,
  };
}

export class RemoteClient {
  private constructor(private credentials: Credentials) {}

  static async fromStore(): Promise<RemoteClient> {
    return new RemoteClient(await loadCredentials());
  }

  get server(): string {
    return this.credentials.server;
  }

  /** A valid access token (renewed first when it expires within 30 s). */
  async token(): Promise<string> {
    if (Date.now() > this.credentials.expiresAt - EARLY_REFRESH_MS) await this.refresh();
    return this.credentials.accessToken;
  }

  async refresh(): Promise<void> {
    const response = await send(this.server, "POST", "/api/v1/auth/refresh", undefined, {
      refreshToken: this.credentials.refreshToken,
    });
    if (!response.ok) {
      const problem = await problemOf(response);
      if (response.status === 401) {
        throw new ProblemError(
          401,
          `${problem.message}; log in again: proxima login --server ${this.server}`,
        );
      }
      throw problem;
    }
    const pair = (await response.json()) as TokenPair;
    this.credentials = {
      ...this.credentials,
      accessToken: pair.accessToken,
      refreshToken: pair.refreshToken,
      expiresAt: Date.now() + pair.expiresIn * 1000,
    };
    await saveCredentials(this.credentials);
  }

  async raw(method: string, path: string, body?: unknown): Promise<Response> {
    let response = await send(this.server, method, path, await this.token(), body);
    if (response.status === 401) {
      await this.refresh();
      response = await send(this.server, method, path, this.credentials.accessToken, body);
    }
    if (!response.ok) throw await problemOf(response);
    return response;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.raw(method, path, body);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }

  /** Revokes the stored login on the server. */
  async logout(): Promise<void> {
    const response = await send(this.server, "POST", "/api/v1/auth/logout", undefined, {
      refreshToken: this.credentials.refreshToken,
    });
    if (!response.ok && response.status !== 401) throw await problemOf(response);
  }

  wsUrl(): string {
    return `${this.server.replace(/^http/, "ws")}/api/v1/ws`;
  }
}

/** Prints a server error as the CLI's contract says: the problem's detail, then one line per field. */
export function reportError(command: string, err: unknown): number {
  if (err instanceof ProblemError) {
    process.stderr.write(`proxima ${command}: ${err.message}\n`);
    // Every field the server named, one line each, in plain language (contracts/problems.ts).
    for (const e of err.errors) process.stderr.write(`  ${e.field}: ${plainFieldMessage(e.message)}\n`);
    return 1;
  }
  throw err;
}
