import test from "ava";
import { resolveHyperparameters } from "../../rl/ppo/hyperparameters.ts";
import type { IterationMetrics } from "../../rl/ppo/ppo-learner.ts";
import { PPOTrainer } from "../../rl/ppo/trainer.ts";

test("a short CartPole run keeps metrics finite and raises the episodic return", async (t) => {
  const config = resolveHyperparameters("CartPole-v1", "zoo", { totalTimesteps: 15_360, seed: 1 });
  const trainer = await PPOTrainer.create({ envId: "CartPole-v1", config });
  const metrics: IterationMetrics[] = [];
  await trainer.train((m) => {
    metrics.push(m);
  });
  t.is(metrics.length, 60);
  t.is(metrics.at(-1)!.global_step, 15_360);
  for (const m of metrics) {
    for (const [k, v] of Object.entries(m))
      if (typeof v === "number") t.true(Number.isFinite(v), `${k} = ${v}`);
  }
  const returns = (ms: IterationMetrics[]) => {
    const r = ms.map((m) => m["charts/episodic_return"]).filter((x): x is number => x !== null);
    return r.reduce((a, b) => a + b, 0) / r.length;
  };
  const early = returns(metrics.slice(0, 10));
  const late = returns(metrics.slice(-10));
  t.true(late > 2 * early, `return rose from ${early.toFixed(1)} to ${late.toFixed(1)}`);
  const evaluation = trainer.evaluate(10, 123);
  t.is(evaluation.returns.length, 10);
  t.true(evaluation.mean > early);
});

test("a Box-action env trains with the Gaussian policy and clipped actions", async (t) => {
  const config = resolveHyperparameters("Pendulum-v1", "cleanrl", {
    totalTimesteps: 2048,
    numSteps: 512,
    numEnvs: 2,
  });
  const trainer = await PPOTrainer.create({ envId: "Pendulum-v1", config });
  const rollout = trainer.collect();
  // Stored actions are the unclipped samples; the env saw them clipped to [-2, 2].
  t.is(rollout.actions.length, 1024);
  const m = trainer.learn(rollout);
  t.true(Number.isFinite(m["losses/policy_loss"]) && Number.isFinite(m["losses/entropy"]));
  // Log-std starts at 0: entropy per dim is ½ + ½log2π ≈ 1.419 at the first update.
  t.true(Math.abs(m["losses/entropy"] - (0.5 + 0.5 * Math.log(2 * Math.PI))) < 0.01);
  t.true(rollout.truncatedIndex.length > 0, "Pendulum's 200-step limit truncates within 512 steps");
});
