import { randomUUID } from "node:crypto";
import test from "ava";
import type { UserQuotas } from "../../contracts/quotas.ts";
import type { PublicRun } from "../../contracts/runs.ts";
import { useTestPlatform } from "../helpers/platform.ts";
import { accountWithRole, tinyRun } from "../runs/helpers.ts";
import { tinySweep } from "../sweeps/helpers.ts";

/**
 * Per-user quota overrides (issue 19): an admin sets any subset of a user's limits through the API;
 * the user's next run, sweep or submission is checked against the role's quota with the override on
 * top. No workers: runs stay queued (active, counted) and cost nothing, so the quotas alone decide.
 */
const api = useTestPlatform(test, {
  SERVICES: "api,users,runs,sweeps",
  RUN_SCHEDULE_INTERVAL_MS: "100",
  SWEEP_POLL_MS: "100",
});

interface Problem {
  detail?: string;
  reason?: string;
  errors?: { field: string; message: string }[];
}

const quotasPath = (id: string) => `/api/v1/users/${id}/quotas`;

async function admin() {
  return (await api().loginAdmin()).accessToken;
}

async function setQuota(userId: string, body: unknown): Promise<UserQuotas> {
  const res = await api().request<UserQuotas>("PUT", quotasPath(userId), { token: await admin(), body });
  if (res.status !== 200) throw new Error(`PUT quotas: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

function create(token: string, body: unknown = tinyRun(2)) {
  return api().request<PublicRun & Problem>("POST", "/api/v1/runs", { token, body });
}

test("an admin's override of concurrentRuns governs the learner's next creates; clearing it restores the role's", async (t) => {
  const p = api();
  const learner = await accountWithRole(p, "learner");
  const set = await setQuota(learner.id, { concurrentRuns: 3 });
  t.is(set.roleQuota.concurrentRuns, 2);
  t.deepEqual(set.override, { concurrentRuns: 3 });
  t.is(set.effective.concurrentRuns, 3);
  t.is(set.effective.runnersPerRun, set.roleQuota.runnersPerRun, "limits left out stay the role's");
  t.truthy(set.updatedAt);

  for (let i = 0; i < 3; i += 1) t.is((await create(learner.token)).status, 201);
  const fourth = await create(learner.token);
  t.is(fourth.status, 429);
  t.regex(fourth.body.detail ?? "", /this account may have 3 active runs at once/);

  const mine = await p.request<UserQuotas>("GET", "/api/v1/me/quotas", { token: learner.token });
  t.is(mine.status, 200);
  t.is(mine.body.effective.concurrentRuns, 3);

  const cleared = await p.request<UserQuotas>("DELETE", quotasPath(learner.id), { token: await admin() });
  t.is(cleared.status, 200);
  t.deepEqual(cleared.body.override, {});
  t.deepEqual(cleared.body.effective, cleared.body.roleQuota);
  t.is(cleared.body.updatedAt, null);
  // Three active runs, and a role quota of 2 again: refused, in the role's words.
  const after = await create(learner.token);
  t.is(after.status, 429);
  t.regex(after.body.detail ?? "", /a learner may have 2 active runs at once/);
});

test("an override can lower and raise per-run limits: steps, runners and GPU", async (t) => {
  const learner = await accountWithRole(api(), "learner");
  await setQuota(learner.id, { totalSteps: 256, runnersPerRun: 4, gpu: true, concurrentRuns: 10 });
  const tooLong = await create(learner.token, tinyRun(3));
  t.is(tooLong.status, 403);
  t.is(tooLong.body.reason, "totalSteps");
  t.regex(tooLong.body.detail ?? "", /this account may train for at most 256 steps/);
  // A learner's role allows 2 runners and no GPU; this learner's override allows 4 and a GPU.
  const wide = await create(learner.token, tinyRun(2, { resources: { runners: 4, gpu: true } }));
  t.is(wide.status, 201, JSON.stringify(wide.body));

  await setQuota(learner.id, { gpu: false, concurrentRuns: 10 });
  const gpu = await create(learner.token, tinyRun(2, { resources: { gpu: true } }));
  t.is(gpu.status, 403);
  t.is(gpu.body.reason, "gpu");
  t.regex(gpu.body.detail ?? "", /this account may not run on a GPU/);
  const runners = await create(learner.token, tinyRun(2, { resources: { runners: 4 } }));
  t.is(runners.status, 403);
  t.regex(runners.body.detail ?? "", /a learner may use at most 2 runners per run/);
});

test("a researcher's concurrentSweeps override holds at sweep creation", async (t) => {
  const researcher = await accountWithRole(api(), "researcher");
  await setQuota(researcher.id, { concurrentSweeps: 1 });
  const first = await api().request<Problem>("POST", "/api/v1/sweeps", {
    token: researcher.token,
    body: tinySweep(2),
  });
  t.is(first.status, 201, JSON.stringify(first.body));
  const second = await api().request<Problem>("POST", "/api/v1/sweeps", {
    token: researcher.token,
    body: tinySweep(2),
  });
  t.is(second.status, 429);
  t.regex(second.body.detail ?? "", /this account may have 1 sweeps running at once/);
});

test("only admins set or clear overrides (403); others see only their own quotas (404 for anyone else's)", async (t) => {
  const p = api();
  const learner = await accountWithRole(p, "learner");
  const researcher = await accountWithRole(p, "researcher");
  for (const [method, body] of [
    ["PUT", { concurrentRuns: 50 }],
    ["DELETE", undefined],
  ] as const) {
    const own = await p.request<Problem>(method, quotasPath(learner.id), { token: learner.token, body });
    t.is(own.status, 403, `${method} own`);
    const other = await p.request<Problem>(method, quotasPath(learner.id), { token: researcher.token, body });
    t.is(other.status, 403, `${method} other`);
  }
  t.is((await p.request("GET", quotasPath(learner.id), { token: learner.token })).status, 200);
  t.is((await p.request("GET", quotasPath(learner.id), { token: researcher.token })).status, 404);
  t.is((await p.request("GET", quotasPath(learner.id), { token: await admin() })).status, 200);
  const mine = await p.request<UserQuotas>("GET", "/api/v1/me/quotas", { token: learner.token });
  t.deepEqual(mine.body.override, {});
  t.deepEqual(mine.body.effective, mine.body.roleQuota);
  t.is(mine.body.role, "learner");
});

test("an override for an unknown user is a 404, on every method", async (t) => {
  const token = await admin();
  for (const id of [randomUUID(), "not-a-uuid"]) {
    for (const [method, body] of [
      ["GET", undefined],
      ["PUT", { concurrentRuns: 3 }],
      ["DELETE", undefined],
    ] as const) {
      const res = await api().request<Problem>(method, quotasPath(id), { token, body });
      t.is(res.status, 404, `${method} ${id}`);
      t.true((res.headers.get("content-type") ?? "").startsWith("application/problem+json"));
    }
  }
});

test("bad override values are a 422 naming each field, and change nothing", async (t) => {
  const learner = await accountWithRole(api(), "learner");
  const token = await admin();
  await setQuota(learner.id, { concurrentRuns: 5 });
  const cases: [unknown, string[]][] = [
    [{ concurrentRuns: 0 }, ["concurrentRuns"]],
    [{ totalSteps: -1, runnersPerRun: 1.5 }, ["totalSteps", "runnersPerRun"]],
    [{ gpu: "yes", submissionsPerMinute: "10" }, ["gpu", "submissionsPerMinute"]],
    [{ parameters: 2 ** 60 }, ["parameters"]],
    [{ concurrentRuns: 3, bogus: 1 }, ["bogus"]],
    [[1, 2], []],
  ];
  for (const [body, fields] of cases) {
    const res = await api().request<Problem>("PUT", quotasPath(learner.id), { token, body });
    t.is(res.status, 422, JSON.stringify(body));
    const text = JSON.stringify(res.body.errors);
    for (const field of fields) t.true(text.includes(field), `${field} in ${text}`);
  }
  const now = await api().request<UserQuotas>("GET", quotasPath(learner.id), { token });
  t.deepEqual(now.body.override, { concurrentRuns: 5 });
});

test("PUT replaces the whole override: a limit left out is the role's again, {} clears it", async (t) => {
  const learner = await accountWithRole(api(), "learner");
  await setQuota(learner.id, { concurrentRuns: 5, totalSteps: 4096 });
  const replaced = await setQuota(learner.id, { totalSteps: 8192 });
  t.deepEqual(replaced.override, { totalSteps: 8192 });
  t.is(replaced.effective.concurrentRuns, replaced.roleQuota.concurrentRuns);
  const cleared = await setQuota(learner.id, {});
  t.deepEqual(cleared.override, {});
  t.is(cleared.updatedAt, null);
});

test("the OpenAPI document describes the quota routes and the override's limits", async (t) => {
  type Op = {
    requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> };
  };
  const doc = await api().request<{ paths: Record<string, Record<string, Op>> }>(
    "GET",
    "/api/v1/openapi.json",
  );
  const put = doc.body.paths["/api/v1/users/{id}/quotas"]?.["put"];
  t.truthy(put?.requestBody?.content["application/json"]?.schema.properties?.["submissionsPerMinute"]);
  t.truthy(doc.body.paths["/api/v1/users/{id}/quotas"]?.["delete"]);
  t.truthy(doc.body.paths["/api/v1/me/quotas"]?.["get"]);
});
