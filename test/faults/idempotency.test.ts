import test from "ava";
import type { PublicRun } from "../../contracts/runs.ts";
import { requestDigest } from "../../services/runs/idempotency.ts";
import { useTestPlatform } from "../helpers/platform.ts";
import { accountWithRole, RUN_SERVICES, tinyRun } from "../runs/helpers.ts";

const api = useTestPlatform(test, { ...RUN_SERVICES, WORKER_SLOTS: "4" });

const post = (token: string, key: string | undefined, body: unknown) =>
  api().request<PublicRun & { title?: string; errors?: { field: string }[] }>("POST", "/api/v1/runs", {
    token,
    body,
    headers: key === undefined ? {} : { "idempotency-key": key },
  });

const countRuns = async (ownerId: string) =>
  (
    await api()
      .platform.db.orm.em.getConnection()
      .execute<{ n: number }[]>(`select count(*)::int as n from "runs" where "owner_id" = ?`, [ownerId])
  )[0]!.n;

test("the same Idempotency-Key and body return the same run (201, then 200 marked as a replay); a body with its keys in another order is the same body", async (t) => {
  const me = await accountWithRole(api(), "researcher");
  const body = tinyRun(2);
  const first = await post(me.token, "key-1", body);
  t.is(first.status, 201);
  t.is(first.headers.get("idempotent-replayed"), null);
  const again = await post(me.token, "key-1", body);
  t.is(again.status, 200);
  t.is(again.headers.get("idempotent-replayed"), "true");
  t.is(again.body.id, first.body.id);
  const reordered = Object.fromEntries(Object.entries(body).reverse());
  t.is((await post(me.token, "key-1", reordered)).body.id, first.body.id);
  t.is(await countRuns(me.id), 1);
});

test("the same Idempotency-Key with another body is a 422 problem naming the header, and creates nothing", async (t) => {
  const me = await accountWithRole(api(), "researcher");
  t.is((await post(me.token, "key-2", tinyRun(2))).status, 201);
  const other = await post(me.token, "key-2", tinyRun(3));
  t.is(other.status, 422);
  t.regex(other.headers.get("content-type") ?? "", /application\/problem\+json/);
  t.deepEqual(
    other.body.errors?.map((e) => e.field),
    ["header.idempotency-key"],
  );
  t.is(await countRuns(me.id), 1);
});

test("concurrent requests with one Idempotency-Key create one run: one 201, the others the same run (200) or 409 while it is in flight", async (t) => {
  const me = await accountWithRole(api(), "researcher");
  const body = tinyRun(2);
  const results = await Promise.all(Array.from({ length: 8 }, () => post(me.token, "key-3", body)));
  const statuses = results.map((r) => r.status);
  t.is(statuses.filter((s) => s === 201).length, 1, JSON.stringify(statuses));
  t.true(
    statuses.every((s) => s === 201 || s === 200 || s === 409),
    JSON.stringify(statuses),
  );
  const created = results.find((r) => r.status === 201)!.body.id;
  for (const r of results.filter((r) => r.status === 200)) t.is(r.body.id, created);
  for (const r of results.filter((r) => r.status === 409))
    t.regex(r.headers.get("content-type") ?? "", /application\/problem\+json/);
  t.is(await countRuns(me.id), 1);
});

test("while the first request with a key is in flight, a retry gets 409 problem+json", async (t) => {
  const me = await accountWithRole(api(), "researcher");
  const body = tinyRun(2);
  // The first request's claim, as its process wrote it before creating the run.
  await api()
    .platform.db.orm.em.getConnection()
    .execute(
      `insert into "idempotency_keys" ("id", "user_id", "key", "request_hash", "run_id", "created_at", "expires_at")
       values (gen_random_uuid(), ?, 'key-4', ?, null, now(), now() + interval '1 hour')`,
      [me.id, requestDigest(body)],
    );
  const res = await post(me.token, "key-4", body);
  t.is(res.status, 409);
  t.regex(res.headers.get("content-type") ?? "", /application\/problem\+json/);
  t.is(await countRuns(me.id), 0);
});

test("keys are per user, a request that fails does not use up its key, and a malformed key is a 422", async (t) => {
  const alice = await accountWithRole(api(), "researcher");
  const bob = await accountWithRole(api(), "learner");
  const a = await post(alice.token, "shared", tinyRun(2));
  const b = await post(bob.token, "shared", tinyRun(2));
  t.is(a.status, 201);
  t.is(b.status, 201);
  t.not(a.body.id, b.body.id);
  // A learner may not ask for a GPU (403): the key stays free for a corrected request.
  const refused = await post(bob.token, "retry-me", tinyRun(2, { resources: { gpu: true } }));
  t.is(refused.status, 403);
  t.is((await post(bob.token, "retry-me", tinyRun(2))).status, 201);
  const bad = await post(alice.token, "", tinyRun(2));
  t.is(bad.status, 422);
  t.deepEqual(
    bad.body.errors?.map((e) => e.field),
    ["header.idempotency-key"],
  );
});
