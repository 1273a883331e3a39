import test from "ava";
import { Rng } from "../../rl/core/rng.ts";
import {
  burnCpuMicros,
  CostlyCartPoleEnv,
  costlyEnvId,
  MAX_STEP_COST_MICROS,
  parseCostlyEnvId,
} from "../../rl/envs/costly.ts";
import { EnvError } from "../../rl/envs/errors.ts";
import { envIds, isEnvId, makeEnv } from "../../rl/envs/registry.ts";
import { makeVectorEnv } from "../../rl/envs/vector.ts";

test("a costly id names CartPole-v1 with its step cost in µs, and malformed or out-of-range ids are rejected", (t) => {
  t.is(costlyEnvId(150), "CartPole-v1-costly-150us");
  t.deepEqual(parseCostlyEnvId("CartPole-v1-costly-150us"), { baseId: "CartPole-v1", stepCostMicros: 150 });
  t.is(parseCostlyEnvId("CartPole-v1"), null);
  t.is(parseCostlyEnvId("CartPole-v1-costly-1.5us"), null);
  t.is(parseCostlyEnvId("Acrobot-v1-costly-100us"), null);
  t.throws(() => parseCostlyEnvId(`CartPole-v1-costly-${MAX_STEP_COST_MICROS + 1}us`), {
    instanceOf: EnvError,
  });
  t.throws(() => costlyEnvId(-1), { instanceOf: EnvError });
  t.throws(() => makeEnv("CartPole-v1-costly-100ms"), { instanceOf: EnvError });
});

test("costly ids are buildable by makeEnv but are not registered, public env ids", (t) => {
  const env = makeEnv("CartPole-v1-costly-20us");
  t.true(env instanceof CostlyCartPoleEnv);
  t.is((env as CostlyCartPoleEnv).stepCostMicros, 20);
  t.is(env.maxEpisodeSteps, 500);
  t.is(env.rewardThreshold, 475);
  t.false(isEnvId("CartPole-v1-costly-20us"));
  t.false(envIds().some((id) => id.includes("costly")));
});

test("a costly CartPole steps exactly like CartPole-v1 from the same seed and actions", (t) => {
  const seed = 11;
  const run = (id: string) => {
    const env = makeVectorEnv(id, 3);
    const rng = new Rng(5);
    const trace: number[] = [...env.reset({ seed })];
    const actions = new Int32Array(3);
    for (let step = 0; step < 200; step++) {
      for (let i = 0; i < 3; i++) actions[i] = rng.uniform() < 0.5 ? 0 : 1;
      const r = env.step(actions);
      trace.push(...r.observations, ...r.rewards, ...r.terminated, ...r.truncated, ...r.finalObservations);
    }
    return trace;
  };
  t.deepEqual(run("CartPole-v1-costly-5us"), run("CartPole-v1"));
});

test("each costly step uses at least its cost in CPU time of the process", (t) => {
  const cost = 200;
  const steps = 25;
  const env = makeEnv(costlyEnvId(cost));
  env.reset({ seed: 3 });
  const before = process.cpuUsage();
  let done = 0;
  while (done < steps) {
    const r = env.step(done % 2);
    done++;
    if (r.terminated || r.truncated) env.reset();
  }
  const used = process.cpuUsage(before);
  t.true(used.user + used.system >= cost * steps);
  t.true(burnCpuMicros(50) >= 50);
  t.is(burnCpuMicros(0), 0);
});
