import test from "ava";
import { DEFAULT_ENV_CHECK_BUDGET } from "../../exercises/custom-environment.ts";
import { getExercise } from "../../exercises/index.ts";
import type { GradingContext } from "../../exercises/types.ts";
import { DEFAULT_CUSTOM_ENV_CAPS, SandboxPool } from "../../sandbox/index.ts";

// The custom-environment check within bounds (issue 15, findings 3 and 4): what an env may declare is
// capped, and the whole check has an overall CPU and wall-clock budget, whatever each step costs.

const exercise = getExercise("custom-environment")!;
// The env check runs in an EnvSession of its own; the pool is only the grader's signature.
const pool = new SandboxPool({ size: 1 });
test.after.always(() => pool.close());

const context = (budget: { cpuMs: number; wallMs: number }): GradingContext => ({
  env: { caps: DEFAULT_CUSTOM_ENV_CAPS, budget },
});

/** Legal in every crossing (a few ms of CPU, far under the 1 s limit), but no episode ever ends. */
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

test("the starter environment passes its check within the default caps and budget", async (t) => {
  const report = await exercise.grade(exercise.starterCode, pool, context(DEFAULT_ENV_CHECK_BUDGET));
  t.is(report.status, "passed", JSON.stringify(report.tests));
});

test("a slow but legal env fails its check at the overall CPU budget, with a message that says so", async (t) => {
  const report = await exercise.grade(SLOW_ENDLESS, pool, context({ cpuMs: 300, wallMs: 60_000 }));
  t.is(report.status, "failed");
  const byName = new Map(report.tests.map((x) => [x.name, x]));
  t.true(byName.get("spaces")!.passed);
  t.true(byName.get("reset")!.passed);
  const episodes = byName.get("episodes")!;
  t.false(episodes.passed);
  t.regex(
    episodes.message,
    /^not checked: the environment check stopped at its overall budget of 300 ms of CPU after \d+ steps of 2 envs and 0 episodes: step\(\) ran out of the session's overall CPU budget of 300 ms; make reset\(\) and step\(\) cheaper, or end episodes sooner$/,
  );
  t.regex(byName.get("steps")!.message, /overall budget of 300 ms of CPU/);
  // The check stopped long before its 20,000 steps: the budget, not the step count, ended it.
  t.true(report.runtimeMs < 30_000, `${report.runtimeMs} ms`);
});

test("the check's wall-clock budget ends it too, and says which budget", async (t) => {
  const report = await exercise.grade(SLOW_ENDLESS, pool, context({ cpuMs: 600_000, wallMs: 4000 }));
  t.not(report.status, "passed");
  const messages = report.tests.map((x) => x.message).join("\n");
  t.regex(messages, /overall budget of 4000 ms of wall-clock time/);
});

test("an env that declares more actions than CODE_ENV_MAX_DISCRETE_ACTIONS fails its check, naming the cap", async (t) => {
  const huge = SLOW_ENDLESS.replace("n: 2", "n: 1000000");
  const report = await exercise.grade(huge, pool, context(DEFAULT_ENV_CHECK_BUDGET));
  t.is(report.status, "error");
  t.is(report.envSpec, null);
  const spaces = report.tests.find((x) => x.name === "spaces")!;
  t.false(spaces.passed);
  t.is(
    spaces.message,
    "createEnv() returned an env that declares 1000000 discrete actions; at most 1024 are allowed (CODE_ENV_MAX_DISCRETE_ACTIONS)",
  );
});
