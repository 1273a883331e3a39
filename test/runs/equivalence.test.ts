import test from "ava";
import { EnvRunner } from "../../actors/env-runner.ts";
import { mergeRollouts } from "../../rl/ppo/distributed.ts";
import type { Rollout } from "../../rl/ppo/rollout.ts";
import { useTestPlatform } from "../helpers/platform.ts";
import {
  accountWithRole,
  deterministicPart,
  launch,
  metrics,
  RUN_SERVICES,
  tinyRun,
  trainLocally,
  waitForStatus,
} from "./helpers.ts";

const api = useTestPlatform(test, { ...RUN_SERVICES, WORKER_SLOTS: "2" });

test("a one-runner run through the API has the metrics of proxima train's single-process trainer", async (t) => {
  const body = tinyRun(4);
  const me = await accountWithRole(api(), "learner");
  const run = await launch(api(), me.token, body);
  await waitForStatus(api(), me.token, run.id, ["completed"]);
  const { trainer, points: local } = await trainLocally(body);
  t.teardown(() => trainer.dispose());
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
