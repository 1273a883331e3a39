import test from "ava";
import type { UserQuotas } from "../../contracts/quotas.ts";
import { createTestDatabase } from "../helpers/db.ts";
import { startTestPlatform, TEST_JWT_SECRET } from "../helpers/platform.ts";
import { freePort, NATS_URL, startProxima, tempDir, uniqueNamespace, waitForUrl } from "../ops/helpers.ts";
import { tinyRun } from "../runs/helpers.ts";

/**
 * Issue 19: a quota change applies to new requests at once, everywhere. Two processes over real NATS
 * on one database: this test's API node (A) hosts the users service and no runs service; a child
 * process (B, `main.ts`) hosts an API and the runs service. An override written through A is checked
 * by B, and one cleared through B is read on A. No request waits for anything to propagate: the one
 * right after the change must see it.
 */
test("an override set through one API process governs the next request on another at once, and so does its removal", async (t) => {
  const database = await createTestDatabase();
  t.teardown(() => database.drop());
  const namespace = uniqueNamespace();
  const cluster = { NATS_URL, MOLECULER_NAMESPACE: namespace, DATABASE_URL: database.url };
  const a = await startTestPlatform(
    t,
    { ...cluster, NODE_ID: `${namespace}-a`, SERVICES: "api,users" },
    { database },
  );
  const port = await freePort();
  const bUrl = `http://127.0.0.1:${port}`;
  const b = startProxima(t, {
    ...cluster,
    NODE_ID: `${namespace}-b`,
    SERVICES: "api,runs",
    PORT: String(port),
    PROXIMA_DATA_DIR: await tempDir(t),
    JWT_SECRET: TEST_JWT_SECRET,
    API_RATE_LIMIT_PER_MIN: "1000000",
  });
  await waitForUrl(b, `${bUrl}/readyz`);

  const onB = async <T>(method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`${bUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  const learner = await a.learner();
  const token = learner.tokens.accessToken;
  const admin = (await a.loginAdmin()).accessToken;
  const quotas = `/api/v1/users/${learner.user.id}/quotas`;
  const create = () => onB<{ detail?: string }>("POST", "/api/v1/runs", token, tinyRun(2));

  // The learner's role allows 2 active runs; an override of 1, set on A, holds on B's very next create.
  t.is((await a.request("PUT", quotas, { token: admin, body: { concurrentRuns: 1 } })).status, 200);
  t.is((await create()).status, 201);
  const refused = await create();
  t.is(refused.status, 429);
  t.regex(refused.body.detail ?? "", /this account may have 1 active runs at once/);

  // Raised on A: B accepts at once.
  t.is((await a.request("PUT", quotas, { token: admin, body: { concurrentRuns: 3 } })).status, 200);
  t.is((await create()).status, 201);

  // Cleared through B, read on A: the role's 2 again, and with 2 runs active B refuses the next.
  t.is((await onB<UserQuotas>("DELETE", quotas, admin)).status, 200);
  const seenOnA = await a.request<UserQuotas>("GET", "/api/v1/me/quotas", { token });
  t.deepEqual(seenOnA.body.override, {});
  t.is(seenOnA.body.effective.concurrentRuns, 2);
  const afterClear = await create();
  t.is(afterClear.status, 429);
  t.regex(afterClear.body.detail ?? "", /a learner may have 2 active runs at once/);
});
