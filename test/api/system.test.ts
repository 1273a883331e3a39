import test from "ava";
import { useTestPlatform } from "../helpers/platform.ts";

const ORIGIN = "https://app.example.org";
const api = useTestPlatform(test, { CORS_ORIGINS: `${ORIGIN},https://admin.example.org` });

test("/healthz answers without authentication", async (t) => {
  const res = await api().request("GET", "/healthz");
  t.is(res.status, 200);
  t.deepEqual(res.body, { status: "ok" });
});

test("/readyz reports the database, the broker and the users service ready", async (t) => {
  const res = await api().request("GET", "/readyz");
  t.is(res.status, 200);
  t.deepEqual(res.body, { status: "ready", checks: { database: true, broker: true, users: true } });
});

test("/metrics serves HTTP, process and broker metrics in Prometheus format, each family once", async (t) => {
  await api().request("GET", "/api/v1/me");
  await api().register(); // at least one service call, for the broker's request metrics
  const res = await api().request<string>("GET", "/metrics");
  t.is(res.status, 200);
  t.regex(res.headers.get("content-type") ?? "", /^text\/plain/);
  t.regex(res.body, /^http_request_duration_seconds_bucket\{.*route="\/api\/v1\/me".*code="401"/m);
  t.regex(res.body, /^process_cpu_seconds_total /m);
  t.regex(res.body, /^moleculer_request_total/m);
  const families = [...res.body.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]);
  t.is(new Set(families).size, families.length, "no metric family is declared twice");
});

test("the OpenAPI 3.1 document lists every route with its schemas and security", async (t) => {
  const res = await api().request<{
    openapi: string;
    paths: Record<string, Record<string, { security?: unknown; requestBody?: unknown; responses: object }>>;
    components: { securitySchemes: object };
  }>("GET", "/api/v1/openapi.json");
  t.is(res.status, 200);
  const doc = res.body;
  t.is(doc.openapi, "3.1.0");
  const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
  );
  for (const expected of [
    "POST /api/v1/auth/register",
    "POST /api/v1/auth/login",
    "POST /api/v1/auth/refresh",
    "POST /api/v1/auth/logout",
    "GET /api/v1/me",
    "GET /api/v1/users",
    "GET /api/v1/users/{id}",
    "PATCH /api/v1/users/{id}",
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
  ]) {
    t.true(operations.includes(expected), expected);
  }
  const register = doc.paths["/api/v1/auth/register"]!["post"]!;
  const schema = JSON.stringify(register.requestBody);
  t.regex(schema, /"minLength":8/);
  t.regex(schema, /"required":\["email","password","name"\]/);
  t.truthy(doc.paths["/api/v1/me"]!["get"]!.security);
  t.falsy(doc.paths["/api/v1/auth/login"]!["post"]!.security);
  t.truthy(doc.paths["/api/v1/users"]!["get"]!.responses["403" as keyof object]);
  t.deepEqual(doc.components.securitySchemes, {
    bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
  });
});

test("the docs page is self-contained HTML listing the operations", async (t) => {
  const res = await api().request<string>("GET", "/api/v1/docs");
  t.is(res.status, 200);
  t.regex(res.headers.get("content-type") ?? "", /^text\/html/);
  t.regex(res.body, /<code>\/api\/v1\/auth\/login<\/code>/);
  t.false(/<script/i.test(res.body), "no script");
  t.false(/(src|href)="(https?:)?\/\//i.test(res.body), "nothing loaded from elsewhere");
  const csp = res.headers.get("content-security-policy") ?? "";
  t.regex(csp, /default-src 'none'/);
  t.regex(csp, /style-src 'sha256-/);
});

test("API responses carry the security headers and no-store", async (t) => {
  const res = await api().request("GET", "/healthz");
  t.is(res.headers.get("content-security-policy"), "default-src 'none'; frame-ancestors 'none'");
  t.is(res.headers.get("x-content-type-options"), "nosniff");
  t.is(res.headers.get("x-frame-options"), "DENY");
  t.is(res.headers.get("referrer-policy"), "no-referrer");
  t.is(res.headers.get("cache-control"), "no-store");
  t.is(res.headers.get("strict-transport-security"), null, "HSTS only in production");
});

test("a sane X-Request-Id is echoed; an absent or odd one is replaced by a fresh id", async (t) => {
  const given = await api().request("GET", "/api/v1/me", { headers: { "x-request-id": "trace-abc.123" } });
  t.is(given.headers.get("x-request-id"), "trace-abc.123");
  t.is((given.body as { requestId: string }).requestId, "trace-abc.123");
  const odd = await api().request("GET", "/healthz", { headers: { "x-request-id": "bad id with spaces" } });
  t.regex(odd.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
  const none = await api().request("GET", "/healthz");
  t.regex(none.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
});

test("CORS answers allowed origins only, never with a wildcard", async (t) => {
  const allowed = await api().request("GET", "/healthz", { headers: { origin: ORIGIN } });
  t.is(allowed.headers.get("access-control-allow-origin"), ORIGIN);
  const other = await api().request("GET", "/healthz", { headers: { origin: "https://evil.example.com" } });
  t.is(other.headers.get("access-control-allow-origin"), null);

  const preflight = await api().request("OPTIONS", "/api/v1/me", {
    headers: {
      origin: ORIGIN,
      "access-control-request-method": "GET",
      "access-control-request-headers": "authorization",
    },
  });
  t.is(preflight.status, 204);
  t.is(preflight.headers.get("access-control-allow-origin"), ORIGIN);
  t.regex(preflight.headers.get("access-control-allow-headers") ?? "", /Authorization/);
});
