import test from "ava";
import { API_PREFIX } from "../../api/app.ts";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.ts";

/**
 * The inputs of issue 15's finding 7, each of which was a 500, and their neighbours: every one is now
 * refused with a 4xx that names the field, before it reaches PostgreSQL or the sweep sampler.
 */
let platform: TestPlatform | undefined;
const api = () => platform!;
let tokens: { learner: string; researcher: string; admin: string };
let learnerId: string;

test.before(async () => {
  platform = await startTestPlatform(null, {
    SERVICES: "api,users,runs,workers,submissions,sweeps,tickets",
    WORKER_SLOTS: "0",
  });
  const p = api();
  const learner = await p.learner();
  const researcher = await p.learner();
  const admin = await p.loginAdmin();
  const promoted = await p.request("PATCH", `${API_PREFIX}/users/${researcher.user.id}`, {
    token: admin.accessToken,
    body: { role: "researcher" },
  });
  if (promoted.status !== 200) throw new Error(`promotion failed: ${promoted.status}`);
  const researcherTokens = await p.login(researcher.email, researcher.password);
  tokens = {
    learner: learner.tokens.accessToken,
    researcher: researcherTokens.accessToken,
    admin: admin.accessToken,
  };
  learnerId = learner.user.id;
});
test.after.always(async () => {
  await platform?.stop();
});

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64url");
const UUID = "00000000-0000-4000-8000-000000000000";

interface Problem {
  status: number;
  errors?: { field: string; message: string }[];
}

for (const [what, text] of [
  ["an id that is not a uuid", `2026-01-01T00:00:00.000Z|not-a-uuid`],
  ["a date PostgreSQL cannot hold", `+275760-09-13T00:00:00.000Z|${UUID}`],
  ["a date before 4713 BC", `-271821-04-20T00:00:00.000Z|${UUID}`],
  ["a NUL", `2026-01-01T00:00:00.000Z\u0000|${UUID}`],
  ["three parts", `2026-01-01T00:00:00.000Z|${UUID}|x`],
] as const) {
  test(`a runs or submissions cursor with ${what} is a 400, not a 500`, async (t) => {
    const cursor = b64(text);
    const runs = await api().request<Problem>("GET", `${API_PREFIX}/runs?cursor=${cursor}`, {
      token: tokens.learner,
    });
    t.is(runs.status, 400);
    const submissions = await api().request<Problem>(
      "GET",
      `${API_PREFIX}/exercises/clipped-surrogate-loss/submissions?cursor=${cursor}`,
      { token: tokens.learner },
    );
    t.is(submissions.status, 400);
  });
}

test("a users or progress cursor that decodes to a NUL is refused, not a 500", async (t) => {
  const users = await api().request<Problem>("GET", `${API_PREFIX}/users?cursor=${b64('{"e":"\\u0000"}')}`, {
    token: tokens.admin,
  });
  t.is(users.status, 422);
  const progress = await api().request<Problem>("GET", `${API_PREFIX}/progress?cursor=${b64("a\u0000")}`, {
    token: tokens.admin,
  });
  t.is(progress.status, 400);
});

test("a NUL or a lone surrogate in any text field is a 422 naming the field", async (t) => {
  const register = await api().request<Problem>("POST", `${API_PREFIX}/auth/register`, {
    body: { email: "nul@example.org", password: "a long enough passphrase", name: "a\u0000b" },
  });
  t.is(register.status, 422);
  t.deepEqual(
    register.body.errors?.map((e) => e.field),
    ["name"],
  );
  const login = await api().request<Problem>("POST", `${API_PREFIX}/auth/login`, {
    body: { email: "a\u0000@example.org", password: "\ud800 whatever" },
  });
  t.is(login.status, 422);
  t.deepEqual(login.body.errors?.map((e) => e.field).sort(), ["email", "password"]);
  const patch = await api().request<Problem>("PATCH", `${API_PREFIX}/users/${learnerId}`, {
    token: tokens.admin,
    body: { name: "x\udc00" },
  });
  t.is(patch.status, 422);
  const key = await api().request<Problem>("POST", `${API_PREFIX}/runs`, {
    token: tokens.learner,
    body: { env: "CartPole-v1", totalSteps: 64, hyperparameters: { "bad\u0000key": 1 } },
  });
  t.is(key.status, 422);
  t.deepEqual(
    key.body.errors?.map((e) => e.field),
    ["hyperparameters"],
  );
});

test("numbers that are not finite and bodies nested past the limit are 422s", async (t) => {
  const infinite = await api().request<Problem>("POST", `${API_PREFIX}/runs`, {
    token: tokens.learner,
    body: '{"env": "CartPole-v1", "totalSteps": 1e400}',
  });
  t.is(infinite.status, 422);
  t.deepEqual(infinite.body.errors, [{ field: "totalSteps", message: "must be a finite number" }]);
  const deep = await api().request<Problem>("POST", `${API_PREFIX}/runs`, {
    token: tokens.learner,
    body: `{"env": "CartPole-v1", "totalSteps": 64, "hyperparameters": {"x": ${"[".repeat(100_000)}${"]".repeat(100_000)}}}`,
  });
  t.is(deep.status, 422);
  t.regex(deep.body.errors?.[0]?.message ?? "", /nested deeper than 32 levels/);
});

const SWEEP = {
  name: "fuzz",
  env: "CartPole-v1",
  totalSteps: 64,
  maxTrials: 2,
  maxConcurrent: 1,
  method: "random",
  hyperparameters: { numEnvs: 2, numSteps: 16, hiddenSizes: [8] },
};

for (const [what, searchSpace, field] of [
  [
    "randint bounds of ±2⁵³",
    { updateEpochs: { randint: [-(2 ** 53), 2 ** 53] } },
    "searchSpace.updateEpochs.randint",
  ],
  [
    "a randint wider than 2³²",
    { updateEpochs: { randint: [0, 2 ** 32 + 1] } },
    "searchSpace.updateEpochs.randint",
  ],
  [
    "a uniform whose span overflows",
    { learningRate: { uniform: [-1e308, 1e308] } },
    "searchSpace.learningRate.uniform",
  ],
  [
    "a quniform step that underflows",
    { learningRate: { quniform: [0, 1, 5e-324] } },
    "searchSpace.learningRate.quniform",
  ],
] as const) {
  test(`a sweep with ${what} is a 422 naming the distribution`, async (t) => {
    const res = await api().request<Problem>("POST", `${API_PREFIX}/sweeps`, {
      token: tokens.researcher,
      body: { ...SWEEP, searchSpace },
    });
    t.is(res.status, 422, JSON.stringify(res.body));
    t.true(
      res.body.errors?.some((e) => e.field === field),
      JSON.stringify(res.body.errors),
    );
  });
}

test("a sweep name with a NUL is a 422 naming it", async (t) => {
  const res = await api().request<Problem>("POST", `${API_PREFIX}/sweeps`, {
    token: tokens.researcher,
    body: { ...SWEEP, name: "a\u0000b", searchSpace: { updateEpochs: { values: [1, 2] } } },
  });
  t.is(res.status, 422);
  t.deepEqual(
    res.body.errors?.map((e) => e.field),
    ["name"],
  );
});

test("a path id with an encoded NUL or invalid UTF-8 is a 404", async (t) => {
  for (const id of ["%00", "%ED%A0%80", "%", "..%2F..%2Fetc%2Fpasswd"]) {
    const res = await api().request<Problem>("GET", `${API_PREFIX}/runs/${id}`, { token: tokens.learner });
    t.is(res.status, 404, id);
  }
});
