import test from "ava";
import type { PublicRun } from "../../contracts/runs.ts";
import { call } from "../../services/actions.ts";
import { useTestPlatform } from "../helpers/platform.ts";
import { accountWithRole, launch, RUN_SERVICES, tinyRun, waitForStatus } from "./helpers.ts";

const api = useTestPlatform(test, { ...RUN_SERVICES, WORKER_SLOTS: "4" });

interface Problem {
  status: number;
  errors?: { field: string; message: string }[];
  reason?: string;
  detail?: string;
}

const fields = (body: Problem) => (body.errors ?? []).map((e) => e.field).sort();

test("validation errors name the request field, hyperparameters included", async (t) => {
  const { token } = await accountWithRole(api(), "learner");
  const post = (body: unknown) => api().request<Problem>("POST", "/api/v1/runs", { token, body });

  const badHp = await post(
    tinyRun(2, { hyperparameters: { numEnvs: 4, numSteps: 32, learningRate: -1, numMinibatches: 3 } }),
  );
  t.is(badHp.status, 422);
  t.deepEqual(fields(badHp.body), ["hyperparameters.learningRate", "hyperparameters.numMinibatches"]);

  const unknownHp = await post(tinyRun(2, { hyperparameters: { numEnvs: 4, numSteps: 32, bogus: 1 } }));
  t.is(unknownHp.status, 422);
  t.deepEqual(fields(unknownHp.body), ["hyperparameters.bogus"]);

  // Request fields and hyperparameters wrong together: every one is named in the one answer.
  const both = await post({
    ...tinyRun(2, { hyperparameters: { numEnvs: 4, numSteps: 32, learningRate: -1 } }),
    name: "",
    seed: -5,
  });
  t.is(both.status, 422);
  t.deepEqual(fields(both.body), ["hyperparameters.learningRate", "name", "seed"]);

  const badEnv = await post(tinyRun(2, { env: "NoSuchEnv-v0" }));
  t.deepEqual(fields(badEnv.body), ["env"]);

  // A known env with the wrong version: the problem names the versions offered.
  const wrongVersion = await post(tinyRun(2, { env: "HalfCheetah-v4" }));
  t.is(wrongVersion.status, 422);
  t.deepEqual(fields(wrongVersion.body), ["env"]);
  t.regex(
    wrongVersion.body.errors?.[0]?.message ?? "",
    /"HalfCheetah-v4": the versions offered are HalfCheetah-v5/,
  );

  const tooFew = await post({ ...tinyRun(2), totalSteps: 10 });
  t.deepEqual(fields(tooFew.body), ["totalSteps"]);

  const runners = await post(tinyRun(2, { resources: { runners: 3 } }));
  t.deepEqual(fields(runners.body), ["resources.runners"]);

  const missing = await post({ env: "CartPole-v1" });
  t.deepEqual(fields(missing.body), ["totalSteps"]);

  // rl-zoo's ppo.yml has no CartPole-v0 entry: the preset is refused by name, with the envs it covers.
  const noPreset = await post(tinyRun(2, { env: "CartPole-v0", preset: "zoo" }));
  t.is(noPreset.status, 422);
  t.deepEqual(fields(noPreset.body), ["preset"]);
  t.regex(
    noPreset.body.errors?.[0]?.message ?? "",
    /no zoo preset for CartPole-v0 .*CartPole-v1, Acrobot-v1/,
  );
});

test("quotas by role: learners get 403 for GPU, too many runners or steps, and 429 past their concurrent runs", async (t) => {
  const { token } = await accountWithRole(api(), "learner");
  const post = (body: unknown) => api().request<Problem>("POST", "/api/v1/runs", { token, body });
  const gpu = await post(tinyRun(2, { resources: { gpu: true } }));
  t.is(gpu.status, 403);
  t.is(gpu.body.reason, "gpu");
  const runners = await post(tinyRun(2, { resources: { runners: 4 } }));
  t.is(runners.status, 403);
  t.is(runners.body.reason, "runnersPerRun");
  const steps = await post(tinyRun(2, { totalSteps: 2_000_000 }));
  t.is(steps.status, 403);
  t.is(steps.body.reason, "totalSteps");

  const a = await launch(api(), token, tinyRun(500));
  const b = await launch(api(), token, tinyRun(500));
  const third = await post(tinyRun(2));
  t.is(third.status, 429);
  for (const run of [a, b]) {
    const stop = await api().request("POST", `/api/v1/runs/${run.id}/stop`, { token });
    t.is(stop.status, 200, JSON.stringify(stop.body));
  }
  await waitForStatus(api(), token, a.id, ["stopped"]);
  await waitForStatus(api(), token, b.id, ["stopped"]);
  t.is((await post(tinyRun(1))).status, 201);

  const researcher = await accountWithRole(api(), "researcher");
  const res = await api().request<Problem>("POST", "/api/v1/runs", {
    token: researcher.token,
    body: tinyRun(2, { resources: { runners: 4 } }),
  });
  t.is(res.status, 201);
});

test("a learner cannot see, stop, resume, delete or download another user's run (404); an admin can see it", async (t) => {
  const owner = await accountWithRole(api(), "learner");
  const other = await accountWithRole(api(), "learner");
  const run = await launch(api(), owner.token, tinyRun(2));
  await waitForStatus(api(), owner.token, run.id, ["completed"]);
  for (const [method, path] of [
    ["GET", ""],
    ["POST", "/stop"],
    ["POST", "/resume"],
    ["GET", "/metrics"],
    ["GET", "/checkpoint"],
    ["DELETE", ""],
  ] as const) {
    const res = await api().request(method, `/api/v1/runs/${run.id}${path}`, { token: other.token });
    t.is(res.status, 404, `${method} ${path}`);
  }
  const list = await api().request<{ items: PublicRun[] }>("GET", "/api/v1/runs", { token: other.token });
  t.false(list.body.items.some((r) => r.id === run.id));
  const admin = await api().loginAdmin();
  t.is((await api().request("GET", `/api/v1/runs/${run.id}`, { token: admin.accessToken })).status, 200);
  await t.throwsAsync(
    call(api().platform.broker, "runs.visible", { runId: run.id, userId: other.id, role: "learner" }),
    { message: "run not found" },
  );
  t.deepEqual(
    await call(api().platform.broker, "runs.visible", { runId: run.id, userId: owner.id, role: "learner" }),
    { ownerId: owner.id, status: "completed", iteration: 2 },
  );
});

test("the run list is the caller's own, filtered by status and env, and paged by cursor without repeats", async (t) => {
  const me = await accountWithRole(api(), "researcher");
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await launch(api(), me.token, tinyRun(1))).id);
  for (const id of ids) await waitForStatus(api(), me.token, id, ["completed"]);
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const q: string = `?limit=2&status=completed&env=CartPole-v1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const page: { body: { items: PublicRun[]; nextCursor: string | null } } = await api().request(
      "GET",
      `/api/v1/runs${q}`,
      {
        token: me.token,
      },
    );
    seen.push(...page.body.items.map((r) => r.id));
    cursor = page.body.nextCursor;
  } while (cursor);
  t.deepEqual(seen, [...ids].reverse());
  const none = await api().request<{ items: PublicRun[] }>("GET", "/api/v1/runs?env=Acrobot-v1", {
    token: me.token,
  });
  t.deepEqual(none.body.items, []);
  const bad = await api().request<Problem>("GET", "/api/v1/runs?status=bogus", { token: me.token });
  t.is(bad.status, 422);
});

test("GET /workers shows nodes, slots and free slots to researchers and admins, 403 to learners", async (t) => {
  const learner = await accountWithRole(api(), "learner");
  t.is((await api().request("GET", "/api/v1/workers", { token: learner.token })).status, 403);
  const researcher = await accountWithRole(api(), "researcher");
  const res = await api().request<{ nodeID: string; slots: number; free: number; gpu: boolean }[]>(
    "GET",
    "/api/v1/workers",
    {
      token: researcher.token,
    },
  );
  t.is(res.status, 200);
  t.is(res.body.length, 1);
  t.is(res.body[0]!.slots, 4);
  t.is(res.body[0]!.gpu, false);
});
