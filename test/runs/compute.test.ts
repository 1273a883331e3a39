import test from "ava";
import { loadConfig } from "../../config.ts";
import { ForbiddenError } from "../../lib/errors.ts";
import { envIds } from "../../rl/envs/registry.ts";
import { PRESETS, resolveHyperparameters } from "../../rl/ppo/hyperparameters.ts";
import {
  checkComputeQuota,
  computeCost,
  type EnvDims,
  envDims,
  estimateFlops,
  formatCount,
  parameterCount,
} from "../../services/runs/compute.ts";
import { roleQuotas } from "../../services/runs/quotas.ts";

const defaults = roleQuotas(loadConfig({}));
const learner = defaults.learner;

/** The error `check` throws, with its data, or null when it passes. */
function refusal(check: () => void): { message: string; data: Record<string, unknown> } | null {
  try {
    check();
    return null;
  } catch (err) {
    if (!(err instanceof ForbiddenError)) throw err;
    return { message: err.message, data: err.data as Record<string, unknown> };
  }
}

test("parameters are the network's own: actor, critic and log-std, gSDE's matrix included", (t) => {
  const cartPole = envDims("CartPole-v1")!;
  // Actor 4→64→64→2 and critic 4→64→64→1, weights and biases; discrete actions have no log-std.
  const actor = 4 * 64 + 64 + 64 * 64 + 64 + 64 * 2 + 2;
  const critic = 4 * 64 + 64 + 64 * 64 + 64 + 64 + 1;
  t.is(parameterCount({ hiddenSizes: [64, 64], activation: "tanh" }, cartPole), actor + critic);

  const pendulum = envDims("Pendulum-v1")!;
  const pActor = 3 * 64 + 64 + 64 * 64 + 64 + 64 + 1;
  const pCritic = 3 * 64 + 64 + 64 * 64 + 64 + 64 + 1;
  t.is(parameterCount({ hiddenSizes: [64, 64], activation: "tanh" }, pendulum), pActor + 1 + pCritic);
  t.is(
    parameterCount({ hiddenSizes: [64, 64], activation: "tanh", useSde: true }, pendulum),
    pActor + 64 * 1 + pCritic,
  );

  // An environment defined by code: its declared spec's sizes.
  const custom = envDims("custom:x", {
    observationSpace: { kind: "box", shape: [2, 3], low: [], high: [] },
    actionSpace: { kind: "box", shape: [4], low: [], high: [] },
    maxEpisodeSteps: 10,
    stateful: false,
  } as never) as EnvDims;
  t.deepEqual(custom, { obsDim: 6, action: { kind: "box", dim: 4 } });
});

test("the FLOPs estimate is 6·P·B·E for the update, 2·P·B for the rollout and 16·P per gradient step", (t) => {
  t.is(estimateFlops(1000, 512, 4, 16), 6 * 1000 * 512 * 4 + 2 * 1000 * 512 + 16 * 1000 * 16);
  const config = resolveHyperparameters("CartPole-v1", "cleanrl");
  const cost = computeCost(config, envDims("CartPole-v1")!);
  t.is(cost.samplesPerIteration, 4 * 128);
  t.is(cost.gradientSteps, 4 * 4);
  t.is(cost.flopsPerIteration, estimateFlops(cost.parameters, 512, 4, 16));
});

test("a learner may run every preset on every env with the default quotas", (t) => {
  for (const env of envIds()) {
    for (const preset of PRESETS) {
      if (preset === "zoo" && env === "CartPole-v0") continue; // rl-zoo has no entry for it (a 422)
      const config = resolveHyperparameters(env, preset);
      t.is(
        refusal(() => checkComputeQuota("learner", learner, config, envDims(env))),
        null,
        `${env} ${preset}`,
      );
    }
  }
});

test("the README's examples stay allowed for learners, a custom env at the largest declared sizes included", (t) => {
  // `proxima runs create --env custom:… --set numEnvs=4 --set numSteps=32` on the cleanrl presets.
  const biggest = {
    observationSpace: { kind: "box", shape: [1024], low: [], high: [] },
    actionSpace: { kind: "box", shape: [64], low: [], high: [] },
    maxEpisodeSteps: 1000,
    stateful: false,
  } as never;
  for (const actions of ["discrete", "box"] as const) {
    const config = resolveHyperparameters("custom:x", "cleanrl", { numEnvs: 4, numSteps: 32 }, actions);
    const dims: EnvDims =
      actions === "box"
        ? envDims("custom:x", biggest)!
        : { obsDim: 1024, action: { kind: "discrete", n: 1024 } };
    t.is(
      refusal(() => checkComputeQuota("learner", learner, config, dims)),
      null,
      actions,
    );
    // Its continuous defaults (2,048 samples × 10 epochs) on such an env as well.
    const defaultsOnly = resolveHyperparameters("custom:x", "cleanrl", {}, actions);
    t.is(
      refusal(() => checkComputeQuota("learner", learner, defaultsOnly, dims)),
      null,
      `${actions} defaults`,
    );
  }
  // The zoo CartPole example, and a wider network than the presets'.
  const zoo = resolveHyperparameters("CartPole-v1", "zoo", { learningRate: 0.001 });
  t.is(
    refusal(() => checkComputeQuota("learner", learner, zoo, envDims("CartPole-v1"))),
    null,
  );
  const wide = resolveHyperparameters("CartPole-v1", "cleanrl", { hiddenSizes: [256, 256] });
  t.is(
    refusal(() => checkComputeQuota("learner", learner, wide, envDims("CartPole-v1"))),
    null,
  );
});

test("hiddenSizes [4096, 4096] is refused for learners, naming the parameters and the limit", (t) => {
  const config = resolveHyperparameters("CartPole-v1", "cleanrl", { hiddenSizes: [4096, 4096] });
  const r = refusal(() => checkComputeQuota("learner", learner, config, envDims("CartPole-v1")));
  t.truthy(r);
  t.is(r!.data["reason"], "parameters");
  t.is(r!.data["limit"], 1_000_000);
  t.is(r!.data["value"], parameterCount(config, envDims("CartPole-v1")!));
  t.is(
    r!.message,
    "hiddenSizes [4096, 4096] gives 33.6M parameters (actor, critic and log-std); a learner may use 1M",
  );
  // Researchers' 10M do not cover it either; admins' 100M do.
  t.is(
    refusal(() => checkComputeQuota("researcher", defaults.researcher, config, envDims("CartPole-v1")))?.data[
      "reason"
    ],
    "parameters",
  );
  t.is(
    refusal(() => checkComputeQuota("admin", defaults.admin, config, envDims("CartPole-v1"))),
    null,
  );
});

test("numMinibatches 512 × updateEpochs 1000 is refused for learners as gradient steps per iteration", (t) => {
  const config = resolveHyperparameters("CartPole-v1", "cleanrl", {
    numMinibatches: 512,
    updateEpochs: 1000,
  });
  const r = refusal(() => checkComputeQuota("learner", learner, config, envDims("CartPole-v1")));
  t.is(r?.data["reason"], "gradientSteps");
  t.is(r?.data["value"], 512_000);
  t.is(
    r?.message,
    "updateEpochs × numMinibatches (1000 × 512) gives 512,000 gradient steps per iteration; a learner may take 2,048",
  );
});

test("samples and estimated FLOPs per iteration have limits of their own", (t) => {
  const samples = resolveHyperparameters("CartPole-v1", "cleanrl", { numEnvs: 64, numSteps: 2048 });
  const s = refusal(() => checkComputeQuota("learner", learner, samples, envDims("CartPole-v1")));
  t.is(s?.data["reason"], "samplesPerIteration");
  t.is(s?.data["value"], 131_072);
  t.regex(
    s?.message ?? "",
    /numEnvs × numSteps \(64 × 2048\) gives 131,072 samples per iteration; a learner may collect 65,536/,
  );

  // 531k parameters (allowed) over 32,768 samples (allowed) × 10 epochs: ~1.1T FLOPs, over 100G.
  const heavy = resolveHyperparameters("CartPole-v1", "cleanrl", {
    hiddenSizes: [512, 512],
    numEnvs: 16,
    numSteps: 2048,
    numMinibatches: 32,
    updateEpochs: 10,
  });
  const f = refusal(() => checkComputeQuota("learner", learner, heavy, envDims("CartPole-v1")));
  t.is(f?.data["reason"], "flopsPerIteration");
  t.is(f?.data["limit"], 1e11);
  t.regex(f?.message ?? "", /needs an estimated 1\.\d+T FLOPs per iteration .*; a learner may use 100G$/);
  t.is(
    refusal(() => checkComputeQuota("researcher", defaults.researcher, heavy, envDims("CartPole-v1"))),
    null,
  );
});

test("ops set every role's limits through the environment", (t) => {
  const q = roleQuotas(
    loadConfig({
      QUOTA_LEARNER_PARAMETERS: "5000",
      QUOTA_LEARNER_GRADIENT_STEPS: "8",
      QUOTA_RESEARCHER_FLOPS_PER_ITERATION: "1e9",
      QUOTA_ADMIN_CONCURRENT_SWEEPS: "1",
      QUOTA_LEARNER_CONCURRENT_RUNS: "5",
    }),
  );
  t.is(q.learner.parameters, 5000);
  t.is(q.learner.gradientSteps, 8);
  t.is(q.learner.concurrentRuns, 5);
  t.is(q.researcher.flopsPerIteration, 1e9);
  t.is(q.admin.concurrentSweeps, 1);
  const config = resolveHyperparameters("CartPole-v1", "cleanrl");
  t.is(
    refusal(() => checkComputeQuota("learner", q.learner, config, envDims("CartPole-v1")))?.data["reason"],
    "parameters",
  );
  t.throws(() => loadConfig({ QUOTA_LEARNER_PARAMETERS: "-1" }), { message: /QUOTA_LEARNER_PARAMETERS/ });
});

test("counts print as a person would read them", (t) => {
  t.is(formatCount(65_536), "65,536");
  t.is(formatCount(1_000_000), "1M");
  t.is(formatCount(33_615_875), "33.6M");
  t.is(formatCount(1e11), "100G");
  t.is(formatCount(1.2e12), "1.2T");
  t.is(formatCount(999_950_000), "1G");
  t.is(formatCount(999_499_999), "999M");
});

test("sweeps: the README's example sweep is allowed for researchers; a PBT space is checked at the largest values it may reach", async (t) => {
  const { readFile } = await import("node:fs/promises");
  const { parse } = await import("yaml");
  const { checkDefinition } = await import("../../services/sweeps/records.ts");
  const example = parse(
    await readFile(new URL("../../examples/sweep-cartpole.yaml", import.meta.url), "utf8"),
  );
  const researcher = { userId: "00000000-0000-4000-8000-000000000001", role: "researcher" as const };
  // No database is needed for a built-in env (the EntityManager serves environments defined by code).
  const em = null as never;
  const { trials } = await checkDefinition(em, example, researcher, defaults.researcher);
  t.is(trials.length, 8);

  const pbt = (numMinibatches: unknown) => ({
    name: "pbt",
    env: "CartPole-v1",
    totalSteps: 4096,
    method: "pbt",
    maxTrials: 2,
    hyperparameters: { numEnvs: 4, numSteps: 128, updateEpochs: 100 },
    searchSpace: { numMinibatches: numMinibatches },
    pbt: { perturbationInterval: 1024 },
  });
  const tight = { ...defaults.researcher, gradientSteps: 1000 };
  // Sampler seed 0 draws no 16 for the first generation (so no trial is refused itself); shifts may reach it.
  const err = await t.throwsAsync(checkDefinition(em, pbt({ values: [1, 2, 4, 16] }), researcher, tight), {
    instanceOf: ForbiddenError,
  });
  t.regex(err.message, /1,600 gradient steps .*PBT's perturbations may reach/);
  await t.notThrowsAsync(checkDefinition(em, pbt({ values: [1, 2, 4, 8] }), researcher, tight));
});
