import test from "ava";
import { startTestPlatform, TEST_PASSWORD } from "../helpers/platform.ts";

/** REGISTRATION=open|invite|closed and the per-address registration limit (issue 15, finding 8). */
type Problem = { limit?: string; value?: unknown; detail?: string };

let n = 0;
const fresh = () => ({ email: `reg-${++n}-${Date.now()}@example.org`, password: TEST_PASSWORD, name: "Reg" });

test("open: anyone registers, up to REGISTRATIONS_PER_IP_PER_HOUR per address", async (t) => {
  const api = await startTestPlatform(t, { TRUST_PROXY: "true", REGISTRATIONS_PER_IP_PER_HOUR: "3" });
  const from = (ip: string, body: object) =>
    api.request<Problem>("POST", "/api/v1/auth/register", { body, headers: { "x-forwarded-for": ip } });
  const first = fresh();
  t.is((await from("203.0.113.9", first)).status, 201);
  t.is((await from("203.0.113.9", first)).status, 409, "refused ones count too (email probing)");
  t.is((await from("203.0.113.9", fresh())).status, 201);
  const limited = await from("203.0.113.9", fresh());
  t.is(limited.status, 429);
  t.like(limited.body, { limit: "REGISTRATIONS_PER_IP_PER_HOUR", value: 3 });
  t.truthy(limited.headers.get("retry-after"));
  t.is((await from("198.51.100.3", fresh())).status, 201, "another address is not limited");
});

test("closed: registration is refused with 403; an admin creates accounts", async (t) => {
  const api = await startTestPlatform(t, { REGISTRATION: "closed" });
  const refused = await api.request<Problem>("POST", "/api/v1/auth/register", { body: fresh() });
  t.is(refused.status, 403);
  t.like(refused.body, { limit: "REGISTRATION", value: "closed" });

  const admin = await api.loginAdmin();
  const account = fresh();
  const created = await api.request<{ role: string }>("POST", "/api/v1/users", {
    token: admin.accessToken,
    body: { ...account, role: "researcher" },
  });
  t.is(created.status, 201);
  t.is(created.body.role, "researcher");
  await api.login(account.email, account.password);

  const learnerToken = (await api.login(account.email, account.password)).accessToken;
  const byNonAdmin = await api.request("POST", "/api/v1/users", { token: learnerToken, body: fresh() });
  t.is(byNonAdmin.status, 403, "only admins create accounts");
});

test("invite: a registration needs an unused invite code from an admin", async (t) => {
  const api = await startTestPlatform(t, { REGISTRATION: "invite" });
  const register = (body: object) => api.request<Problem>("POST", "/api/v1/auth/register", { body });

  const without = await register(fresh());
  t.is(without.status, 403);
  t.like(without.body, { limit: "REGISTRATION", value: "invite" });
  t.is((await register({ ...fresh(), invite: "inv_made-up" })).status, 403);

  const admin = await api.loginAdmin();
  const invite = await api.request<{ code: string; expiresAt: string }>("POST", "/api/v1/invites", {
    token: admin.accessToken,
    body: {},
  });
  t.is(invite.status, 201);
  const { code } = invite.body;
  t.true(Date.parse(invite.body.expiresAt) > Date.now());

  // A refused registration leaves the invite unspent.
  t.is((await register({ ...fresh(), password: "password", invite: code })).status, 422);
  const account = fresh();
  t.is((await register({ ...account, invite: code })).status, 201);
  await api.login(account.email, account.password);
  const reused = await register({ ...fresh(), invite: code });
  t.is(reused.status, 403, "an invite works once");
  t.regex(String(reused.body.detail), /unknown, used or expired/);

  const learner = await api.login(account.email, account.password);
  const byLearner = await api.request("POST", "/api/v1/invites", { token: learner.accessToken, body: {} });
  t.is(byLearner.status, 403, "only admins create invites");
});

test("invite: two registrations racing with one code create one account", async (t) => {
  const api = await startTestPlatform(t, { REGISTRATION: "invite" });
  const admin = await api.loginAdmin();
  const { code } = (
    await api.request<{ code: string }>("POST", "/api/v1/invites", { token: admin.accessToken, body: {} })
  ).body;
  const statuses = await Promise.all(
    Array.from({ length: 8 }, () =>
      api.request("POST", "/api/v1/auth/register", { body: { ...fresh(), invite: code } }),
    ),
  );
  t.deepEqual(statuses.map((r) => r.status).sort(), [201, 403, 403, 403, 403, 403, 403, 403]);
});
