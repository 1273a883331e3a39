import test from "ava";
import { EnvRunner } from "../../actors/env-runner.ts";
import { mergeRollouts } from "../../rl/ppo/distributed.ts";
import { resolveHyperparameters } from "../../rl/ppo/hyperparameters.ts";
import type { Rollout } from "../../rl/ppo/rollout.ts";
import { PPOTrainer, WALL_TIME_KEYS } from "../../rl/ppo/trainer.ts";
import { useTestPlatform } from "../helpers/platform.ts";
import {
  accountWithRole,
  deterministicPart,
  launch,
  metrics,
  RUN_SERVICES,
  tinyRun,
  waitForStatus,
} from "./helpers.ts";

const api = useTestPlatform(test, { ...RUN_SERVICES, WORKER_SLOTS: "2" });

test("a one-runner run through the API has the metrics of proxima train's single-process trainer", async (t) => {
  const body = tinyRun(4);
  const me = await accountWithRole(api(), "learner");
  const run = await launch(api(), me.token, body);
  await waitForStatus(api(), me.token, run.id, ["completed"]);
  const trainer = await PPOTrainer.create({
    envId: "CartPole-v1",
    config: resolveHyperparameters("CartPole-v1", "cleanrl", {
      ...body.hyperparameters,
      totalTimesteps: body.totalSteps,
      seed: body.seed,
    }),
  });
  const local: { iteration: number; globalStep: number; metrics: Record<string, number | null> }[] = [];
  await trainer.train((m) => {
    const { iteration, global_step, ...rest } = m;
    const values: Record<string, number | null> = {};
    for (const [k, v] of Object.entries(rest)) {
      if (!(WALL_TIME_KEYS as readonly string[]).includes(k))
        values[k] = Number.isFinite(v) ? (v as number) : null;
    }
    local.push({ iteration, globalStep: global_step, metrics: values });
  });
  t.deepEqual(deterministicPart(await metrics(api(), me.token, run.id)), local);
});

test("two runners' rollouts merge into the time-major batch one vector env of all their envs would give", async (t) => {
  const config = { seed: 3, numSteps: 5, hiddenSizes: [8], activation: "tanh" as const };
  const policy = (n: number) => new Float32Array(n).map((_, i) => Math.sin(i) * 0.1);
  const runners = await Promise.all(
    [0, 1].map((index) => EnvRunner.create({ envId: "CartPole-v1", config, numEnvs: 2, index })),
  );
  const size = 4 * 8 + 8 + 8 * 2 + 2;
  const parts: Rollout[] = await Promise.all(
    runners.map(async (r) => (await r.sample({ version: 1, policy: policy(size) })).rollout),
  );
  const merged = mergeRollouts(parts);
  t.is(merged.numEnvs, 4);
  for (let step = 0; step < 5; step++) {
    for (let env = 0; env < 4; env++) {
      const part = parts[env >> 1]!;
      const src = step * 2 + (env & 1);
      const dst = step * 4 + env;
      t.deepEqual(merged.obs.subarray(dst * 4, dst * 4 + 4), part.obs.subarray(src * 4, src * 4 + 4));
      t.is(merged.logprobs[dst], part.logprobs[src]);
      t.is(merged.rewards[dst], part.rewards[src]);
    }
  }
  // Runner r's envs are the run's envs r·E…: seeded seed + r·E + i, so their first observations differ.
  t.notDeepEqual(parts[0]!.obs.subarray(0, 8), parts[1]!.obs.subarray(0, 8));
  t.throws(() => mergeRollouts([parts[0]!, { ...parts[1]!, policyVersion: 2 }]), {
    name: "RolloutMergeError",
  });
});
