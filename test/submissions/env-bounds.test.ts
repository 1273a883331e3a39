import test from "ava";
import pg from "pg";
import type { PublicSubmission } from "../../contracts/submissions.ts";
import { getExercise } from "../../exercises/index.ts";
import { useTestPlatform } from "../helpers/platform.ts";
import { accountWithRole, launch, tinyRun, waitForStatus } from "../runs/helpers.ts";
import { graded, submit } from "./helpers.ts";

/**
 * Environment submissions within bounds, through the API (issue 15, findings 3 and 4): the node's
 * caps and check budget come from its settings; one learner's slow checks do not hold another's
 * behind them (the env-check queue is fair by learner); and a run on an env whose stored spec
 * exceeds today's caps is refused with a 422 naming the cap and the value.
 */
const api = useTestPlatform(test, {
  SERVICES: "api,users,submissions,runs,sweeps",
  SUBMISSIONS_POOL_SIZE: "1",
  SUBMISSIONS_ENV_CHECKS_CONCURRENT: "1",
  SUBMISSIONS_ENV_CHECK_CPU_MS: "300",
  SUBMISSIONS_CONCURRENT_PER_USER: "10",
  QUOTA_LEARNER_SUBMISSIONS_PER_MINUTE: "100",
  CODE_ENV_MAX_DISCRETE_ACTIONS: "8",
});

const EXERCISE = "custom-environment";
const STARTER = getExercise(EXERCISE)!.starterCode;

/** Each crossing a few ms of CPU (legal), no episode ever ends: only the check's budget stops it. */
const SLOW_ENDLESS = `function createEnv() {
  return {
    observationSpace: { kind: "box", low: [0], high: [1] },
    actionSpace: { kind: "discrete", n: 2 },
    maxEpisodeSteps: 100000,
    reset() { return [0]; },
    step() {
      let x = 0;
      for (let i = 0; i < 100000; i++) x += Math.sqrt(i);
      return { observation: [x > -1 ? 0 : 1], reward: 0, terminated: false };
    },
  };
}`;

const started = (s: PublicSubmission) => Date.parse(s.startedAt!);

test.serial(
  "one learner's slow env checks fail at the overall budget and do not hold another learner's check behind them",
  async (t) => {
    const p = api();
    const a = (await p.learner()).tokens.accessToken;
    const b = (await p.learner()).tokens.accessToken;
    // Learner A queues three slow checks (the node runs one at a time), then learner B one.
    const slow: PublicSubmission[] = [];
    for (let i = 0; i < 3; i++) slow.push(await submit(p, a, EXERCISE, `${SLOW_ENDLESS}\n// ${i}`));
    const other = await submit(p, b, EXERCISE, STARTER);

    const fair = await graded(p, b, other.id, 120_000);
    const done = await Promise.all(slow.map((s) => graded(p, a, s.id, 120_000)));
    t.is(fair.status, "passed", JSON.stringify(fair.tests));
    for (const s of done) {
      t.is(s.status, "failed");
      t.regex(
        s.tests.find((x) => x.name === "episodes")!.message,
        /the environment check stopped at its overall budget of 300 ms of CPU after \d+ steps/,
      );
    }
    // B's check ran right after the check of A's that was running when B submitted, before A's others.
    const order = [...done, fair].sort((x, y) => started(x) - started(y)).map((s) => s.id);
    t.deepEqual(order, [slow[0]!.id, other.id, slow[1]!.id, slow[2]!.id]);
  },
);

test.serial(
  "an env past the node's CODE_ENV_MAX_DISCRETE_ACTIONS fails its check, naming the cap",
  async (t) => {
    const p = api();
    const token = (await p.learner()).tokens.accessToken;
    const s = await submit(p, token, EXERCISE, STARTER.replace("n: 2 }", "n: 9 }"));
    const done = await graded(p, token, s.id, 120_000);
    t.is(done.status, "error");
    t.is(done.envId, null);
    t.is(
      done.tests.find((x) => x.name === "spaces")!.message,
      "createEnv() returned an env that declares 9 discrete actions; at most 8 are allowed (CODE_ENV_MAX_DISCRETE_ACTIONS)",
    );
  },
);

test.serial(
  "a run or sweep on an env passed before its cap was lowered is refused at start and at resume with a 422 naming the cap and the value",
  async (t) => {
    const p = api();
    const { token } = await accountWithRole(p, "researcher");
    const s = await graded(p, token, (await submit(p, token, EXERCISE, STARTER)).id, 120_000);
    t.is(s.status, "passed");
    const envId = s.envId!;
    // A run on it, stopped while the env was within the caps (no worker here: it never leaves the queue).
    const before = await launch(p, token, tinyRun(1, { env: envId }));
    t.is((await p.request("POST", `/api/v1/runs/${before.id}/stop`, { token })).status, 200);
    await waitForStatus(p, token, before.id, ["stopped"]);
    // What an env graded before the cap existed looks like: a stored spec of 1,000,000 actions.
    const client = new pg.Client({ connectionString: p.database.url });
    await client.connect();
    try {
      const spec = { ...s.envSpec!, actionSpace: { kind: "discrete", n: 1_000_000 } };
      await client.query(`update "submissions" set "env_spec" = $1 where "id" = $2`, [
        JSON.stringify(spec),
        s.id,
      ]);
    } finally {
      await client.end();
    }
    const res = await p.request<{ status: number; errors?: { field: string; message: string }[] }>(
      "POST",
      "/api/v1/runs",
      { token, body: tinyRun(1, { env: envId }) },
    );
    const problem = [
      {
        field: "env",
        message: `${envId} declares 1000000 discrete actions; at most 8 are allowed (CODE_ENV_MAX_DISCRETE_ACTIONS)`,
      },
    ];
    t.is(res.status, 422, JSON.stringify(res.body));
    t.deepEqual(res.body.errors, problem);
    const resumed = await p.request<{ errors?: unknown }>("POST", `/api/v1/runs/${before.id}/resume`, {
      token,
    });
    t.is(resumed.status, 422, JSON.stringify(resumed.body));
    t.deepEqual(resumed.body.errors, problem);
    const sweep = await p.request<{ errors?: unknown }>("POST", "/api/v1/sweeps", {
      token,
      body: {
        name: "over the cap",
        env: envId,
        totalSteps: 128,
        hyperparameters: { numEnvs: 4, numSteps: 32, numMinibatches: 2, updateEpochs: 2 },
        searchSpace: { learningRate: { values: [3e-3, 1e-3] } },
        maxTrials: 2,
        maxConcurrent: 1,
      },
    });
    t.is(sweep.status, 422, JSON.stringify(sweep.body));
    t.deepEqual(sweep.body.errors, problem);
  },
);
