import fc from "fast-check";
import type { z } from "zod";
import { API_PREFIX } from "../../api/app.ts";
import type { ApiDeps } from "../../api/context.ts";
import { API_V1_MODULES } from "../../api/routes/index.ts";
import { documentationRoutes, systemRoutes } from "../../api/routes/system.ts";
import { type MountedRoute, RouteTable } from "../../api/routing/route-table.ts";
import type { Config } from "../../config.ts";
import { fromZod, type Hints, hostileString, hostileValue } from "./arbitraries.ts";

/** The route table the API mounts, built from the same modules (handlers are never called here). */
export function apiRoutes(config: Config): MountedRoute[] {
  const table = new RouteTable();
  const deps = { config } as unknown as ApiDeps;
  systemRoutes(table.scope(""), deps);
  const v1 = table.scope(API_PREFIX);
  for (const addModule of API_V1_MODULES) addModule(v1, deps);
  documentationRoutes(v1, () => ({}));
  return table.routes;
}

export type Principal = "anonymous" | "learner" | "researcher" | "admin" | "forged";

export interface FuzzRequest {
  /** The route's method and path template, as `GET /api/v1/runs/:id`. */
  route: string;
  principal: Principal;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** Ids of things that exist, so that some requests reach the services and the database. */
export interface KnownIds {
  runs: string[];
  sweeps: string[];
  submissions: string[];
  users: string[];
  exercises: string[];
  cursors: string[];
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64url");

/** Cursors that decode to what no page could have written (finding 7: a non-uuid id was a 500). */
const MALFORMED_CURSORS = [
  b64("2026-01-01T00:00:00.000Z|not-a-uuid"),
  b64("2026-01-01T00:00:00.000Z|00000000-0000-0000-0000-000000000000|x"),
  b64("+275760-09-13T00:00:00.000Z|00000000-0000-0000-0000-000000000000"),
  b64("-271821-04-20T00:00:00.000Z|00000000-0000-0000-0000-000000000000"),
  b64("\u0000"),
  b64("a\u0000b|c"),
  b64('{"e":"\\u0000"}'),
  b64('{"e":""}'),
  b64('{"e":{"$gt":""}}'),
  b64('{"e":"\\ud800"}'),
  b64("|"),
  "!!!",
  "%00",
  "x".repeat(512),
];

const RAW_BODIES = [
  "{",
  "1e400",
  '{"totalSteps": 1e400}',
  "[".repeat(100_000) + "]".repeat(100_000),
  `${'{"a":'.repeat(20_000)}1${"}".repeat(20_000)}`,
  '"\\u0000"',
  '{"__proto__": {"admin": true}, "constructor": {"prototype": {"x": 1}}}',
  "null",
  "[]",
  "\u0000",
  JSON.stringify({ name: "x".repeat(1_100_000) }),
];

/** Path segments that are not ids (URL-encoded NUL, an invalid UTF-8 escape, traversal, junk). */
const RAW_SEGMENTS = [
  "%00",
  "%ED%A0%80",
  "%",
  "%zz",
  "..%2F..%2Fetc%2Fpasswd",
  "..",
  "x".repeat(2000),
  "%C0%AE",
];

function idsFor(path: string, known: KnownIds): string[] {
  if (path.startsWith(`${API_PREFIX}/runs`)) return known.runs;
  if (path.startsWith(`${API_PREFIX}/sweeps`)) return known.sweeps;
  if (path.startsWith(`${API_PREFIX}/submissions`)) return known.submissions;
  if (path.startsWith(`${API_PREFIX}/users`)) return known.users;
  if (path.startsWith(`${API_PREFIX}/exercises`)) return known.exercises;
  return [];
}

function segment(path: string, known: KnownIds): fc.Arbitrary<string> {
  const ids = idsFor(path, known);
  return fc.oneof(
    { arbitrary: ids.length > 0 ? fc.constantFrom(...ids) : fc.uuid(), weight: 6 },
    { arbitrary: fc.uuid(), weight: 2 },
    { arbitrary: fc.constantFrom(...RAW_SEGMENTS), weight: 1 },
    { arbitrary: hostileString.map(encodeURIComponentLoose), weight: 1 },
  );
}

/** encodeURIComponent, except that a lone surrogate (which it refuses) goes as raw invalid UTF-8. */
function encodeURIComponentLoose(s: string): string {
  return s.isWellFormed() ? encodeURIComponent(s) : `${encodeURIComponent(s.toWellFormed())}%ED%A0%80`;
}

function queryString(value: unknown): string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "";
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(value)) {
    const key = k.toWellFormed();
    if (Array.isArray(v)) for (const item of v.slice(0, 20)) params.append(key, scalar(item));
    else if (v !== undefined) params.append(key, scalar(v));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

function scalar(v: unknown): string {
  const text = typeof v === "string" ? v : (JSON.stringify(v) ?? String(v));
  return text.toWellFormed().slice(0, 4000);
}

const printableHeader = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map(String.fromCharCode),
  maxLength: 300,
});

/** One request to `route`: its schemas' values, hostile ones, raw bodies, any principal. */
export function requestFor(route: MountedRoute, known: KnownIds, hints: Hints): fc.Arbitrary<FuzzRequest> {
  const { spec } = route;
  const names = [...route.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1]!);
  const segments = fc.tuple(...names.map(() => segment(route.path, known)));
  const queryHints: Hints = {
    ...hints,
    cursor: fc.oneof(
      fc.constantFrom(...MALFORMED_CURSORS, ...known.cursors),
      fc.base64String({ maxLength: 60 }),
    ),
  };
  const query = spec.query
    ? fc.oneof(
        { arbitrary: fromZod(spec.query as z.ZodType, queryHints), weight: 9 },
        { arbitrary: hostileValue, weight: 1 },
      )
    : fc.option(fc.dictionary(fc.string({ maxLength: 8 }), hostileString, { maxKeys: 2 }), { freq: 4 });
  const jsonBody = spec.body
    ? fromZod(spec.body as z.ZodType, hints).map((v) => JSON.stringify(v))
    : fc.constant(undefined);
  const body = fc.oneof(
    { arbitrary: jsonBody, weight: 12 },
    { arbitrary: fc.constantFrom(...RAW_BODIES), weight: 1 },
    { arbitrary: hostileValue.map((v) => JSON.stringify(v)), weight: 1 },
  );
  // One body in twenty is sent as another media type (a 415), the rest as JSON.
  const contentType = fc
    .nat(19)
    .map(
      (n) =>
        ["text/plain", "application/x-www-form-urlencoded", "application/merge-patch+json"][n] ??
        "application/json",
    );
  // Mostly callers who get past authentication: 1 in 10 anonymous, 1 in 10 with a forged token.
  const principal = fc
    .nat(9)
    .map(
      (n): Principal =>
        (["anonymous", "forged", "researcher", "researcher"] as const)[n] ?? (n % 2 ? "learner" : "admin"),
    );
  return fc
    .record({
      principal,
      segments,
      query,
      body,
      contentType,
      idempotencyKey: fc.option(printableHeader, { freq: 3 }),
    })
    .map(({ principal, segments, query, body, contentType, idempotencyKey }) => {
      let i = 0;
      const path = route.path.replace(/:([A-Za-z_]+)/g, () => segments[i++]!);
      const headers: Record<string, string> = {};
      if (body !== undefined) headers["content-type"] = contentType;
      if (idempotencyKey !== null) headers["idempotency-key"] = idempotencyKey;
      return {
        route: `${spec.method.toUpperCase()} ${route.path}`,
        principal,
        method: spec.method.toUpperCase(),
        path: `${path}${queryString(query)}`,
        headers,
        ...(body === undefined ? {} : { body }),
      };
    });
}
