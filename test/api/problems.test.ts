import test from "ava";
import { useTestPlatform } from "../helpers/platform.ts";

const api = useTestPlatform(test, { BODY_LIMIT: "2kb" });

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  requestId: string;
  errors?: { field: string; message: string }[];
}

/** Checks the RFC 9457 shape shared by every error response, and that nothing internal leaks. */
function assertProblem(
  t: import("ava").ExecutionContext,
  res: { status: number; headers: Headers; body: unknown },
  status: number,
  path: string,
): Problem {
  t.is(res.status, status);
  t.is(res.headers.get("content-type"), "application/problem+json");
  const body = res.body as Problem;
  t.is(body.status, status);
  t.regex(body.type, /^urn:proxima:problem:[a-z0-9-]+$/);
  t.is(typeof body.title, "string");
  t.true(body.title.length > 0);
  t.is(typeof body.detail, "string");
  t.is(body.instance, path);
  t.is(body.requestId, res.headers.get("x-request-id") ?? "(no X-Request-Id header)");
  const text = JSON.stringify(body);
  t.false(/\bat .+\.(ts|js):\d+/.test(text), "no stack trace");
  t.false("stack" in body);
  return body;
}

test("400: malformed JSON", async (t) => {
  const res = await api().request("POST", "/api/v1/auth/login", { body: '{"email": "a@b.c", "password": ' });
  const body = assertProblem(t, res, 400, "/api/v1/auth/login");
  t.regex(body.detail, /JSON/);
});

test("401: no token", async (t) => {
  const res = await api().request("GET", "/api/v1/me");
  assertProblem(t, res, 401, "/api/v1/me");
  t.is(res.headers.get("www-authenticate"), 'Bearer realm="proxima"');
});

test("403: a learner on an admin route", async (t) => {
  const { tokens } = await api().learner();
  const res = await api().request("GET", "/api/v1/users", { token: tokens.accessToken });
  assertProblem(t, res, 403, "/api/v1/users");
});

test("404: an unknown route, and an unknown user", async (t) => {
  const route = await api().request("GET", "/api/v1/no-such-thing");
  assertProblem(t, route, 404, "/api/v1/no-such-thing");
  const admin = await api().loginAdmin();
  const id = "00000000-0000-4000-8000-000000000000";
  const user = await api().request("GET", `/api/v1/users/${id}`, { token: admin.accessToken });
  const body = assertProblem(t, user, 404, `/api/v1/users/${id}`);
  t.is(body.type, "urn:proxima:problem:not-found");
});

test("405: a known path with a wrong method, with Allow", async (t) => {
  const res = await api().request("DELETE", "/api/v1/auth/login");
  assertProblem(t, res, 405, "/api/v1/auth/login");
  t.is(res.headers.get("allow"), "POST");
});

test("409: a duplicate registration", async (t) => {
  const { email } = await api().register();
  const res = await api().request("POST", "/api/v1/auth/register", {
    body: { email, password: "another long passphrase", name: "Again" },
  });
  const body = assertProblem(t, res, 409, "/api/v1/auth/register");
  t.is(body.type, "urn:proxima:problem:conflict");
});

test("422: every invalid field is named, with a message", async (t) => {
  const res = await api().request("POST", "/api/v1/auth/register", {
    body: { email: "not-an-email", password: "short", name: "", extra: true },
  });
  const body = assertProblem(t, res, 422, "/api/v1/auth/register");
  t.is(body.type, "urn:proxima:problem:validation-failed");
  const fields = body.errors!.map((e) => e.field).sort();
  t.deepEqual(fields, ["email", "extra", "name", "password"]);
  for (const e of body.errors!) t.true(e.message.length > 0);
});

test("422: a missing body is refused by the schema, naming the body", async (t) => {
  const res = await api().request("POST", "/api/v1/auth/login");
  const body = assertProblem(t, res, 422, "/api/v1/auth/login");
  t.is(body.errors?.[0]?.field, "body");
});

test("413: a body over BODY_LIMIT", async (t) => {
  const res = await api().request("POST", "/api/v1/auth/login", {
    body: { email: "a@example.org", password: "x".repeat(4096) },
  });
  assertProblem(t, res, 413, "/api/v1/auth/login");
});

test("415: a body that is not JSON", async (t) => {
  const res = await api().request("POST", "/api/v1/auth/login", {
    body: "email=a@example.org",
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });
  assertProblem(t, res, 415, "/api/v1/auth/login");
});
