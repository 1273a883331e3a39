import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ExecutionContext, TestFn } from "ava";
import { type Config, loadConfig } from "../../config.ts";
import type { PublicUser, TokenPair } from "../../contracts/users.ts";
import { type Platform, startPlatform } from "../../platform.ts";
import { createTestDatabase, type TestDatabase } from "./db.ts";

/**
 * A real platform for API tests: its own PostgreSQL database, the `api` and `users` services in one
 * broker, the API on a random port. Use `useTestPlatform(test)` for one platform shared by a file's
 * tests, or `startTestPlatform(t)` for one that lives as long as a single test.
 */
export const TEST_JWT_SECRET = "proxima-test-secret-0123456789abcdefghijklmnop";
export const TEST_ADMIN = { email: "admin@proxima.test", password: "admin passphrase for tests" } as const;
export const TEST_PASSWORD = "a long enough passphrase";

export interface HttpResult<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

export interface RegisteredUser {
  user: PublicUser;
  email: string;
  password: string;
}

export interface TestPlatform {
  url: string;
  platform: Platform;
  config: Config;
  database: TestDatabase;
  /** JSON in, parsed JSON (or text) out; `token` becomes a bearer Authorization header. */
  request<T = unknown>(
    method: string,
    path: string,
    opts?: { body?: unknown; token?: string; headers?: Record<string, string> },
  ): Promise<HttpResult<T>>;
  /** Registers a fresh account (unique email) and returns it with its password. */
  register(opts?: { email?: string; password?: string; name?: string }): Promise<RegisteredUser>;
  /** Logs in; throws when the API refuses, so that a test fails at the line that assumed success. */
  login(email: string, password: string): Promise<TokenPair>;
  /** Registers and logs in a learner. */
  learner(): Promise<RegisteredUser & { tokens: TokenPair }>;
  /** Logs in the bootstrap admin (TEST_ADMIN). */
  loginAdmin(): Promise<TokenPair>;
  authedFetch(token: string, path: string, init?: RequestInit): Promise<Response>;
  stop(): Promise<void>;
}

export interface TestPlatformOptions {
  /** Reuse a database (the caller drops it); by default a fresh one is created and dropped at stop. */
  database?: TestDatabase;
}

let counter = 0;

export async function startTestPlatform(
  t: ExecutionContext | null,
  overrides: Record<string, string | undefined> = {},
  opts: TestPlatformOptions = {},
): Promise<TestPlatform> {
  const database = opts.database ?? (await createTestDatabase());
  const dataDir = await mkdtemp(path.join(tmpdir(), "proxima-test-"));
  let platform: Platform | undefined;
  const stop = async () => {
    try {
      await platform?.stop();
    } finally {
      if (!opts.database) await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  };
  t?.teardown(stop);
  const config = loadConfig(
    dropUndefined({
      NODE_ENV: "test",
      LOG_LEVEL: process.env["TEST_LOG_LEVEL"] ?? "silent",
      DATABASE_URL: database.url,
      PROXIMA_DATA_DIR: dataDir,
      HOST: "127.0.0.1",
      PORT: "0",
      SERVICES: "api,users",
      JWT_SECRET: TEST_JWT_SECRET,
      PROXIMA_ADMIN_EMAIL: TEST_ADMIN.email,
      PROXIMA_ADMIN_PASSWORD: TEST_ADMIN.password,
      REQUEST_TIMEOUT_MS: "10000",
      // Test files register dozens of accounts from 127.0.0.1; registration.test.ts sets its own limit.
      REGISTRATIONS_PER_IP_PER_HOUR: "1000000",
      // Tests wait by reading state every 50 ms, often from several tests of a file with one account
      // (the admin): the per-user request limit is no part of what they check.
      API_RATE_LIMIT_PER_MIN: "1000000",
      ...overrides,
    }),
  );
  try {
    platform = await startPlatform(config);
  } catch (err) {
    await stop();
    throw err;
  }
  const url = platform.apiUrl;
  if (!url) throw new Error("the platform started without an API URL");

  const request: TestPlatform["request"] = async (method, urlPath, o = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.body !== undefined) headers["content-type"] ??= "application/json";
    if (o.token) headers["authorization"] = `Bearer ${o.token}`;
    const response = await fetch(`${url}${urlPath}`, {
      method,
      headers,
      body: o.body === undefined ? undefined : typeof o.body === "string" ? o.body : JSON.stringify(o.body),
    });
    const text = await response.text();
    const type = response.headers.get("content-type") ?? "";
    const body = type.includes("json") && text.length > 0 ? JSON.parse(text) : text;
    return { status: response.status, headers: response.headers, body };
  };

  const login: TestPlatform["login"] = async (email, password) => {
    const res = await request<TokenPair>("POST", "/api/v1/auth/login", { body: { email, password } });
    if (res.status !== 200)
      throw new Error(`login of ${email} failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };

  const register: TestPlatform["register"] = async (o = {}) => {
    counter += 1;
    const email = o.email ?? `user-${process.pid}-${counter}-${Date.now()}@example.org`;
    const password = o.password ?? TEST_PASSWORD;
    const res = await request<PublicUser>("POST", "/api/v1/auth/register", {
      body: { email, password, name: o.name ?? `User ${counter}` },
    });
    if (res.status !== 201)
      throw new Error(`registration of ${email} failed: ${res.status} ${JSON.stringify(res.body)}`);
    return { user: res.body, email, password };
  };

  return {
    url,
    platform,
    config,
    database,
    request,
    register,
    login,
    async learner() {
      const account = await register();
      return { ...account, tokens: await login(account.email, account.password) };
    },
    loginAdmin: () => login(TEST_ADMIN.email, TEST_ADMIN.password),
    authedFetch(token, urlPath, init = {}) {
      const headers = new Headers(init.headers);
      headers.set("authorization", `Bearer ${token}`);
      return fetch(`${url}${urlPath}`, { ...init, headers });
    },
    stop,
  };
}

/**
 * One platform for all the tests of a file: started before the first test, stopped after the last.
 * Call at the top level of the file; the returned function gives the running platform.
 */
export function useTestPlatform(
  test: TestFn,
  overrides: Record<string, string | undefined> = {},
): () => TestPlatform {
  let current: TestPlatform | undefined;
  test.before(async () => {
    current = await startTestPlatform(null, overrides);
  });
  test.after.always(async () => {
    await current?.stop();
  });
  return () => {
    if (!current) throw new Error("the test platform is not running (did test.before fail?)");
    return current;
  };
}

function dropUndefined(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}
