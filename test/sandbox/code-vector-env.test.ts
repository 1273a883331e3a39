import test from "ava";
import { getExercise } from "../../exercises/index.ts";
import type { CodeEnvDefinition } from "../../rl/envs/code-env.ts";
import { createRunnerCollector, type EnvRunnerSpec } from "../../rl/ppo/distributed.ts";
import { resolveHyperparameters } from "../../rl/ppo/hyperparameters.ts";
import type { Rollout } from "../../rl/ppo/rollout.ts";
import { CodeVectorEnv } from "../../sandbox/code-vector-env.ts";

/**
 * rl's AsyncVectorEnv over an env session: an env runner's collector stepping an environment defined
 * by code, and the state it restores from (a checkpoint, a replacement runner on another worker).
 */
const STARTER = getExercise("custom-environment")!.starterCode;
const STATELESS = STARTER.replace(
  / {4}getState\(\) \{[\s\S]*?\n {4}\},\n {4}setState\(state\) \{[\s\S]*?\n {4}\},\n/,
  "",
);
const SPEC = {
  observationSpace: { kind: "box" as const, shape: [1], low: [0], high: [1] },
  actionSpace: { kind: "discrete" as const, n: 2 },
  maxEpisodeSteps: 100,
};
const config = resolveHyperparameters("custom:test", "cleanrl", { numSteps: 40, seed: 9 }, "discrete");

async function collector(code: string, stateful: boolean) {
  const codeEnv: CodeEnvDefinition = { code, spec: { ...SPEC, stateful } };
  const spec: EnvRunnerSpec = { envId: "custom:test", config, numEnvs: 3, index: 0, codeEnv };
  const env = await CodeVectorEnv.open(spec.envId, codeEnv, spec.numEnvs);
  const c = await createRunnerCollector(spec, { env });
  c.setPolicy(
    c.policy.map((_, i) => Math.sin(i) * 0.3),
    1,
  );
  return { c, env };
}

const copy = (r: Rollout) => ({
  obs: r.obs.slice(),
  actions: r.actions.slice(),
  rewards: r.rewards.slice(),
  terminated: r.terminated.slice(),
  truncated: r.truncated.slice(),
  episodes: r.episodes.map((e) => ({ ...e })),
});

test("a runner restored from a stateful env's captured state collects exactly what the original collects next", async (t) => {
  const a = await collector(STARTER, true);
  const b = await collector(STARTER, true);
  t.teardown(() => Promise.all([a.env.close(), b.env.close()]));
  await a.c.collectAsync();
  const state = JSON.parse(JSON.stringify(a.c.getState()));
  t.true(state.env.envs.every((s: { custom: unknown }) => s.custom !== null));
  const next = copy(await a.c.collectAsync());
  await b.c.restore(state);
  t.deepEqual(copy(await b.c.collectAsync()), next);
  t.true(next.episodes.length > 0);
});

test("episode statistics are the float64 sums of each episode's rewards, over rollout boundaries", async (t) => {
  const { c, env } = await collector(STARTER, true);
  t.teardown(() => env.close());
  const open = [0, 0, 0];
  const lengths = [0, 0, 0];
  const finished: { return: number; length: number }[] = [];
  for (let k = 0; k < 3; k++) {
    const r = await c.collectAsync();
    for (let s = 0; s < r.numSteps; s++) {
      for (let i = 0; i < 3; i++) {
        open[i]! += r.rewards[s * 3 + i]!;
        lengths[i]! += 1;
        if (r.terminated[s * 3 + i] || r.truncated[s * 3 + i]) {
          finished.push({ return: open[i]!, length: lengths[i]! });
          open[i] = 0;
          lengths[i] = 0;
        }
      }
    }
    t.is(r.episodes.length, finished.length);
    for (const [j, e] of r.episodes.entries()) {
      t.is(e.length, finished[j]!.length);
      t.true(Math.abs(e.return - finished[j]!.return) < 1e-5);
    }
    finished.length = 0;
  }
});

test("an env without getState/setState restores as new episodes, seeded from each env's history", async (t) => {
  const a = await collector(STATELESS, false);
  const b = await collector(STATELESS, false);
  t.teardown(() => Promise.all([a.env.close(), b.env.close()]));
  t.false(a.env.spec.stateful);
  await a.c.collectAsync();
  const state = a.c.getState();
  t.true(state.env.envs.every((s) => "kind" in s && s.kind === "code" && s.custom === null));
  await a.c.restore(state);
  await b.c.restore(state);
  // Both begin fresh episodes (lengths from zero) and continue identically.
  t.deepEqual(a.c.getState().env.episodeLengths, [0, 0, 0]);
  t.deepEqual(copy(await a.c.collectAsync()), copy(await b.c.collectAsync()));
});

test("code that now declares other spaces than it was checked with is refused before any run steps it", async (t) => {
  const codeEnv: CodeEnvDefinition = {
    code: STARTER,
    spec: { ...SPEC, actionSpace: { kind: "discrete", n: 3 }, stateful: true },
  };
  const err = await t.throwsAsync(CodeVectorEnv.open("custom:test", codeEnv, 2));
  t.regex(err?.message ?? "", /not the spaces it was checked with/);
});
