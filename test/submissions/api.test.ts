import test from "ava";
import type { PublicSubmission, UserProgress } from "../../contracts/submissions.ts";
import { MetricPoint } from "../../db/entities/MetricPoint.ts";
import { Run } from "../../db/entities/Run.ts";
import { SOLUTIONS } from "../exercises/solutions.ts";
import { useTestPlatform } from "../helpers/platform.ts";
import { accountWithRole } from "../runs/helpers.ts";
import { TestSocket } from "../ws/helpers.ts";
import { graded, NEVER_SETTLES, SUBMISSION_SERVICES, submit, submitAndGrade } from "./helpers.ts";

const platform = useTestPlatform(test, { ...SUBMISSION_SERVICES, SUBMISSION_MAX_CODE_BYTES: "2048" });

type Json = Record<string, unknown>;

function isProblem(
  t: import("ava").ExecutionContext,
  res: { status: number; headers: Headers; body: unknown },
  status: number,
) {
  t.is(res.status, status, JSON.stringify(res.body));
  t.true((res.headers.get("content-type") ?? "").startsWith("application/problem+json"));
  t.is((res.body as Json)["status"], status);
}

test("the catalogue lists the six PPO exercises and the custom environment to signed-in users only", async (t) => {
  const api = platform();
  isProblem(t, await api.request("GET", "/api/v1/exercises"), 401);
  const { tokens } = await api.learner();
  const res = await api.request<Json[]>("GET", "/api/v1/exercises", { token: tokens.accessToken });
  t.is(res.status, 200);
  t.deepEqual(
    res.body.map((e) => e["id"]),
    [
      "discounted-returns",
      "gae",
      "advantage-normalization",
      "clipped-surrogate-loss",
      "clipped-value-loss",
      "mountain-car-shaping",
      "custom-environment",
    ],
  );
  for (const e of res.body) {
    t.true(typeof e["version"] === "number" && typeof e["points"] === "number");
  }
});

test("an exercise shows its statement, starter code and visible tests, never its hidden tests", async (t) => {
  const api = platform();
  const { tokens } = await api.learner();
  const res = await api.request<Json>("GET", "/api/v1/exercises/gae", { token: tokens.accessToken });
  t.is(res.status, 200);
  t.regex(String(res.body["statement"]), /^# Generalized Advantage Estimation/);
  t.regex(String(res.body["starterCode"]), /function gae\(/);
  t.is(res.body["entry"], "gae");
  t.is((res.body["visibleTests"] as unknown[]).length, 2);
  const text = JSON.stringify(res.body);
  t.false(/hidden/i.test(Object.keys(res.body).join(",")));
  // The hidden cases' names are not in the public view.
  t.false(text.includes("long rollout"));
  isProblem(
    t,
    await api.request("GET", "/api/v1/exercises/no-such-exercise", { token: tokens.accessToken }),
    404,
  );
  isProblem(t, await api.request("GET", "/api/v1/exercises/NOT_AN_ID", { token: tokens.accessToken }), 404);
});

test("a correct submission is accepted with 202, graded asynchronously and passes with full marks", async (t) => {
  const api = platform();
  const { tokens } = await api.learner();
  const code = `${SOLUTIONS["discounted-returns"]}\nconsole.log("loaded");`;
  const res = await api.request<PublicSubmission>(
    "POST",
    "/api/v1/exercises/discounted-returns/submissions",
    {
      token: tokens.accessToken,
      body: { code },
    },
  );
  t.is(res.status, 202);
  t.is(res.headers.get("location"), `/api/v1/submissions/${res.body.id}`);
  t.true(["queued", "running"].includes(res.body.status));
  t.is(res.body.exerciseVersion, 1);
  t.regex(res.body.codeHash, /^[0-9a-f]{64}$/);
  const done = await graded(api, tokens.accessToken, res.body.id);
  t.is(done.status, "passed");
  t.is(done.score, 10);
  t.is(done.maxScore, 10);
  t.is(done.code, code);
  t.true(done.tests.length >= 8);
  t.true(done.tests.every((x) => x.passed));
  t.true(done.tests.some((x) => x.hidden) && done.tests.some((x) => !x.hidden));
  t.is(done.console, "loaded\n");
  t.true(done.runtimeMs! > 0 && done.memoryBytes! > 0);
  t.truthy(done.startedAt && done.finishedAt);
});

test("a wrong submission fails with per-test messages; hidden tests do not reveal their expected values", async (t) => {
  const api = platform();
  const { tokens } = await api.learner();
  const done = await submitAndGrade(
    api,
    tokens.accessToken,
    "discounted-returns",
    "function discountedReturns(rewards, gamma) { return rewards.slice(); }",
  );
  t.is(done.status, "failed");
  t.true(done.score < 10);
  const visible = done.tests.find((x) => !x.hidden && !x.passed)!;
  t.regex(visible.message, /expected \[/);
  const failedHidden = done.tests.filter((x) => x.hidden && !x.passed);
  t.true(failedHidden.length > 0);
  for (const hidden of failedHidden) {
    t.regex(hidden.message, /is off by/);
    t.notRegex(hidden.message, /expected [[{\d-]|got/);
  }
});

test("code that does not compile is graded as an error with the syntax error", async (t) => {
  const api = platform();
  const { tokens } = await api.learner();
  const done = await submitAndGrade(api, tokens.accessToken, "gae", "function gae( {");
  t.is(done.status, "error");
  t.is(done.score, 0);
  t.regex(done.error ?? "", /^syntax: SyntaxError/);
});

test("bad submissions are refused: 401, 404, 422 and 413 as problem+json", async (t) => {
  const api = platform();
  const { tokens } = await api.learner();
  const token = tokens.accessToken;
  isProblem(t, await api.request("POST", "/api/v1/exercises/gae/submissions", { body: { code: "x" } }), 401);
  isProblem(
    t,
    await api.request("POST", "/api/v1/exercises/nope/submissions", { token, body: { code: "x" } }),
    404,
  );
  const missing = await api.request<Json>("POST", "/api/v1/exercises/gae/submissions", { token, body: {} });
  isProblem(t, missing, 422);
  t.deepEqual(
    (missing.body["errors"] as Json[]).map((e) => e["field"]),
    ["code"],
  );
  isProblem(
    t,
    await api.request("POST", "/api/v1/exercises/gae/submissions", { token, body: { code: 42 } }),
    422,
  );
  const big = await api.request<Json>("POST", "/api/v1/exercises/gae/submissions", {
    token,
    body: { code: `// ${"x".repeat(3000)}` },
  });
  isProblem(t, big, 413);
  t.regex(String(big.body["detail"]), /at most 2048/);
  isProblem(t, await api.request("GET", "/api/v1/submissions/not-a-uuid", { token }), 404);
  isProblem(t, await api.request("GET", `/api/v1/submissions/${crypto.randomUUID()}`, { token }), 404);
});

test("a submission is visible to its author and admins only; histories are per user, admins see all", async (t) => {
  const api = platform();
  const alice = await api.learner();
  const bob = await api.learner();
  const admin = await api.loginAdmin();
  const a = await submitAndGrade(
    api,
    alice.tokens.accessToken,
    "clipped-value-loss",
    SOLUTIONS["clipped-value-loss"]!,
  );
  const b = await submitAndGrade(
    api,
    bob.tokens.accessToken,
    "clipped-value-loss",
    "function clippedValueLoss() { return 0; }",
  );

  isProblem(
    t,
    await api.request("GET", `/api/v1/submissions/${a.id}`, { token: bob.tokens.accessToken }),
    404,
  );
  t.is((await api.request("GET", `/api/v1/submissions/${a.id}`, { token: admin.accessToken })).status, 200);

  type Page = { items: PublicSubmission[]; nextCursor: string | null };
  const own = await api.request<Page>("GET", "/api/v1/exercises/clipped-value-loss/submissions", {
    token: alice.tokens.accessToken,
  });
  t.is(own.status, 200);
  t.deepEqual(
    own.body.items.map((s) => s.id),
    [a.id],
  );
  t.is(own.body.items[0]!.code, undefined);

  const all = await api.request<Page>("GET", "/api/v1/exercises/clipped-value-loss/submissions?limit=1", {
    token: admin.accessToken,
  });
  t.is(all.body.items.length, 1);
  t.truthy(all.body.nextCursor);
  const next = await api.request<Page>(
    "GET",
    `/api/v1/exercises/clipped-value-loss/submissions?limit=100&cursor=${all.body.nextCursor}`,
    { token: admin.accessToken },
  );
  const ids = [...all.body.items, ...next.body.items].map((s) => s.id);
  t.true(ids.includes(a.id) && ids.includes(b.id));

  const onlyBob = await api.request<Page>(
    "GET",
    `/api/v1/exercises/clipped-value-loss/submissions?userId=${bob.user.id}`,
    { token: admin.accessToken },
  );
  t.deepEqual(
    onlyBob.body.items.map((s) => s.id),
    [b.id],
  );
  // A learner asking for someone else's history still gets only their own.
  const sneaky = await api.request<Page>(
    "GET",
    `/api/v1/exercises/clipped-value-loss/submissions?userId=${bob.user.id}`,
    { token: alice.tokens.accessToken },
  );
  t.deepEqual(
    sneaky.body.items.map((s) => s.id),
    [a.id],
  );
  isProblem(
    t,
    await api.request("GET", "/api/v1/exercises/clipped-value-loss/submissions?limit=0", {
      token: alice.tokens.accessToken,
    }),
    422,
  );
});

test("progress follows every grade: attempts, best score, passed, and runs with their best training and evaluation returns", async (t) => {
  const api = platform();
  const learner = await api.learner();
  const token = learner.tokens.accessToken;
  const empty = await api.request<UserProgress>("GET", "/api/v1/me/progress", { token });
  t.is(empty.status, 200);
  t.like(empty.body, { exercisesAttempted: 0, exercisesPassed: 0, attempts: 0, lastActivity: null });
  t.is(empty.body.exercisesTotal, 7);

  await submitAndGrade(
    api,
    token,
    "advantage-normalization",
    "function normalizeAdvantages(a) { return a; }",
  );
  const best = await submitAndGrade(
    api,
    token,
    "advantage-normalization",
    SOLUTIONS["advantage-normalization"]!,
  );
  await submitAndGrade(
    api,
    token,
    "advantage-normalization",
    "function normalizeAdvantages(a) { return a; }",
  );

  // Runs are derived from the runs' own rows: two CartPole runs, one with metric points, both
  // completed with an evaluation of their final policy.
  const em = api.platform.db.orm.em.fork();
  const evaluation = (returnMean: number) => ({
    episodes: 2,
    seed: 1_000_001,
    returnMean,
    returnStd: 0,
    lengthMean: returnMean,
    returns: [returnMean, returnMean],
    iteration: 3,
    globalStep: 1536,
  });
  const runs = [120, 450].map((evalReturn) =>
    em.create(Run, {
      owner: learner.user.id,
      envId: "CartPole-v1",
      preset: "cleanrl",
      config: {} as never,
      seed: 1,
      totalSteps: 1000,
      resources: { runners: 1, envsPerRunner: 4, gpu: false },
      status: "completed",
      evaluation: evaluation(evalReturn),
    }),
  );
  await em.flush();
  for (const [iteration, ret] of [
    [1, 20.5],
    [2, 181.25],
    [3, null],
  ] as const) {
    em.create(MetricPoint, {
      run: runs[0]!.id,
      iteration,
      globalStep: iteration * 512,
      wallTime: new Date(),
      metrics: { "charts/episodic_return": ret },
    });
  }
  await em.flush();

  const res = await api.request<UserProgress>("GET", "/api/v1/me/progress", { token });
  t.is(res.body.userId, learner.user.id);
  t.like(res.body, { exercisesAttempted: 1, exercisesPassed: 1, attempts: 3, points: 10 });
  t.like(res.body.exercises[0], {
    exerciseId: "advantage-normalization",
    attempts: 3,
    bestScore: 10,
    maxScore: 10,
    passed: true,
    bestSubmissionId: best.id,
  });
  t.truthy(res.body.exercises[0]!.firstPassedAt);
  t.deepEqual(res.body.runs, {
    launched: 2,
    byEnv: [{ env: "CartPole-v1", runs: 2, bestEpisodicReturn: 181.25, bestEvaluationReturn: 450 }],
  });
  t.truthy(res.body.lastActivity);
});

test("every learner's progress is for admins only, a page at a time", async (t) => {
  const api = platform();
  const learner = await api.learner();
  isProblem(t, await api.request("GET", "/api/v1/progress", { token: learner.tokens.accessToken }), 403);
  const researcher = await accountWithRole(api, "researcher");
  isProblem(t, await api.request("GET", "/api/v1/progress", { token: researcher.token }), 403);
  const admin = await api.loginAdmin();
  type Page = { items: UserProgress[]; nextCursor: string | null };
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const res: { status: number; body: Page } = await api.request<Page>(
      "GET",
      `/api/v1/progress?limit=2${cursor ? `&cursor=${cursor}` : ""}`,
      { token: admin.accessToken },
    );
    t.is(res.status, 200);
    t.true(res.body.items.length <= 2);
    seen.push(...res.body.items.map((p) => p.email!));
    cursor = res.body.nextCursor;
  } while (cursor);
  t.true(seen.includes(learner.email));
  t.deepEqual(seen, [...seen].sort());
});

test("a learner with two submissions being graded gets 429 with Retry-After for a third", async (t) => {
  const api = platform();
  const { tokens } = await api.learner();
  const token = tokens.accessToken;
  const first = await submit(api, token, "discounted-returns", NEVER_SETTLES);
  const second = await submit(api, token, "discounted-returns", NEVER_SETTLES);
  const third = await api.request<Json>("POST", "/api/v1/exercises/discounted-returns/submissions", {
    token,
    body: { code: SOLUTIONS["discounted-returns"] },
  });
  isProblem(t, third, 429);
  t.regex(third.headers.get("retry-after") ?? "", /^\d+$/);
  t.regex(String(third.body["detail"]), /at most 2 submissions may be queued or graded at once/);
  // Both end at the wall-clock deadline, as errors; then the learner may submit again.
  for (const s of [first, second]) {
    const done = await graded(api, token, s.id);
    t.is(done.status, "error");
    t.regex(done.error ?? "", /^timeout: .*wall-clock deadline/);
  }
  t.is(
    (await submitAndGrade(api, token, "discounted-returns", SOLUTIONS["discounted-returns"]!)).status,
    "passed",
  );
});

test("the learner is told on the WebSocket when grading ends", async (t) => {
  const api = platform();
  const { tokens } = await api.learner();
  const other = await api.learner();
  const socket = await TestSocket.withToken(api.url, tokens.accessToken);
  const otherSocket = await TestSocket.withToken(api.url, other.tokens.accessToken);
  t.teardown(() => {
    socket.ws.close();
    otherSocket.ws.close();
  });
  const s = await submit(
    api,
    tokens.accessToken,
    "clipped-surrogate-loss",
    SOLUTIONS["clipped-surrogate-loss"]!,
  );
  const message = await socket.next((m) => m["type"] === "submission", 30_000);
  t.deepEqual(message, {
    type: "submission",
    submissionId: s.id,
    exerciseId: "clipped-surrogate-loss",
    exerciseVersion: 1,
    status: "passed",
    score: 20,
    maxScore: 20,
    envId: null,
  });
  await t.throwsAsync(otherSocket.next((m) => m["type"] === "submission", 500));
});

test("the reward-shaping exercise is graded by a training run on the submissions node", async (t) => {
  const api = platform();
  const { tokens } = await api.learner();
  const s = await submit(api, tokens.accessToken, "mountain-car-shaping", SOLUTIONS["mountain-car-shaping"]!);
  const done = await graded(api, tokens.accessToken, s.id, 120_000);
  t.is(done.status, "passed", JSON.stringify(done.tests));
  t.is(done.maxScore, 25);
  t.true(done.tests.some((x) => /seed 1: the greedy policy reaches the flag/.test(x.name) && x.passed));
  t.true(done.runtimeMs! > 0);
});
