/**
 * The PPO hyperparameters: one zod schema (every field described and bounded), two preset families
 * and a resolver that turns (env id, preset, overrides) into a full, validated configuration.
 *
 * Names follow CleanRL's `ppo.py` arguments in camelCase (`numEnvs`, `numSteps`, `numMinibatches`,
 * `updateEpochs`, ...): the minibatch count is given, the minibatch size derived
 * (`batchSize = numEnvs * numSteps`, `minibatchSize = batchSize / numMinibatches`), as CleanRL does.
 */
import { z } from "zod";
import { builtinSpaces } from "../envs/registry.ts";
import { NORMALIZE_STYLES, NORMALIZE_UPDATES } from "./normalize.ts";

export const ACTIVATIONS = ["tanh", "relu"] as const;
export type Activation = (typeof ACTIVATIONS)[number];

export const hyperparametersSchema = z
  .object({
    totalTimesteps: z
      .number()
      .int()
      .min(1)
      .max(1e10)
      .describe("Total environment steps (summed over all vector sub-environments) to train for."),
    seed: z
      .number()
      .int()
      .min(0)
      .max(0xffffffff)
      .describe(
        "Seed of every random choice: network init, action sampling, minibatch shuffles, env resets.",
      ),
    numEnvs: z.number().int().min(1).max(4096).describe("Number of parallel environments in the vector env."),
    numSteps: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .describe("Steps per environment per rollout; the batch is numEnvs × numSteps transitions."),
    learningRate: z.number().gt(0).max(1).describe("Adam learning rate (the start value when annealed)."),
    annealLr: z
      .boolean()
      .describe("Decay the learning rate linearly to 0 over the iterations (CleanRL `anneal_lr`)."),
    gamma: z.number().min(0).max(1).describe("Discount factor γ."),
    gaeLambda: z
      .number()
      .min(0)
      .max(1)
      .describe("λ of Generalized Advantage Estimation (Schulman et al., 2016)."),
    numMinibatches: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .describe("Minibatches per epoch; must divide numEnvs × numSteps."),
    updateEpochs: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .describe("Passes over the rollout batch per iteration (K epochs)."),
    normAdv: z.boolean().describe("Normalise advantages per minibatch to zero mean and unit (sample) std."),
    clipCoef: z.number().gt(0).max(10).describe("Surrogate clipping ε: the ratio is clipped to [1-ε, 1+ε]."),
    annealClip: z
      .boolean()
      .describe("Decay clipCoef linearly to 0 like the learning rate (rl-zoo's `clip_range: lin_x`)."),
    clipVloss: z
      .boolean()
      .describe("Clip the value update around the rollout's values by clipCoef (CleanRL `clip_vloss`)."),
    entCoef: z.number().min(0).max(10).describe("Entropy bonus coefficient."),
    vfCoef: z.number().min(0).max(100).describe("Value loss coefficient."),
    maxGradNorm: z
      .number()
      .gt(0)
      .max(1e6)
      .describe("Global gradient-norm clipping threshold (all parameters)."),
    targetKl: z
      .number()
      .gt(0)
      .max(10)
      .nullable()
      .describe("Stop the epochs of an iteration early once approx_kl exceeds it; null disables."),
    adamEps: z.number().gt(0).max(1).describe("Adam's ε (CleanRL and SB3 use 1e-5)."),
    hiddenSizes: z
      .array(z.number().int().min(1).max(4096))
      .min(1)
      .max(8)
      .describe("Hidden layer widths of the actor and of the critic (separate networks)."),
    activation: z.enum(ACTIVATIONS).describe("Hidden-layer activation."),
    // gSDE and init options (SB3 `ActorCriticPolicy` arguments, used by rl-zoo's continuous entries).
    // `.default().optional()`: configs stored before these fields parse to today's behaviour.
    useSde: z
      .boolean()
      .default(false)
      .optional()
      .describe(
        "Generalized State-Dependent Exploration (Raffin, Kober & Stulp, CoRL 2021; SB3 `use_sde`): exploration noise ε(s) = latent(s)·E with E ~ N(0, exp(logStd)²) per env, a learned log-std matrix [last hidden, action dim]. Box actions only.",
      ),
    sdeSampleFreq: z
      .number()
      .int()
      .min(-1)
      .max(1_000_000)
      .default(-1)
      .optional()
      .describe(
        "With useSde: resample the exploration matrices every n env steps within a rollout (SB3 `sde_sample_freq`); -1 (or 0): only at the start of each rollout.",
      ),
    logStdInit: z
      .number()
      .min(-20)
      .max(5)
      .default(0)
      .optional()
      .describe(
        "Initial value of every log-std parameter: the Gaussian's log-std vector, or gSDE's log-std matrix (SB3 `log_std_init`).",
      ),
    orthoInit: z
      .boolean()
      .default(true)
      .optional()
      .describe(
        "Orthogonal init (gains √2 hidden, 0.01 policy head, 1 value head, zero biases); false: PyTorch's default nn.Linear init, U(±1/√fan_in) for weights and biases (SB3 `ortho_init`).",
      ),
    // Observation/reward normalisation (SB3 VecNormalize, rl-zoo's `normalize: true`; rl/ppo/normalize.ts).
    // `.default().optional()`: configs stored before these fields parse to today's behaviour (off).
    normalizeObs: z
      .boolean()
      .default(false)
      .optional()
      .describe(
        "Normalise observations by their running mean and variance, clip((obs − mean) / √(var + 1e-8), ±clipObs), as SB3's VecNormalize(norm_obs=True). Statistics move as normalizeUpdate says; those of everything the envs returned are saved in checkpoints and frozen for evaluation.",
      ),
    normalizeReward: z
      .boolean()
      .default(false)
      .optional()
      .describe(
        "Scale rewards by the running standard deviation of the discounted return (returns = returns·γ + r), clip(r / √(var + 1e-8), ±clipReward), as SB3's VecNormalize(norm_reward=True, gamma=γ). Reported episode returns stay the raw env returns.",
      ),
    clipObs: z
      .number()
      .gt(0)
      .max(1e6)
      .default(10)
      .optional()
      .describe("Bound of the normalised observations (SB3 `clip_obs`, 10)."),
    clipReward: z
      .number()
      .gt(0)
      .max(1e6)
      .default(10)
      .optional()
      .describe("Bound of the normalised rewards (SB3 `clip_reward`, 10)."),
    normalizeStyle: z
      .enum(NORMALIZE_STYLES)
      .default("sb3")
      .optional()
      .describe(
        "Whose bookkeeping normalisation follows: 'sb3' (VecNormalize: the discounted return restarts after any episode end; obs statistics never see terminal observations) or 'gymnasium' (Gymnasium 1.x NormalizeObservation/NormalizeReward as CleanRL's ppo_continuous_action stacks them: the return is cleared only by a termination, before the terminal reward is added; obs statistics also see terminal observations). Under normalizeUpdate 'iteration' one set of statistics serves all envs; under 'step' each env keeps its own, as CleanRL's per-env wrappers do.",
      ),
    normalizeUpdate: z
      .enum(NORMALIZE_UPDATES)
      .default("iteration")
      .optional()
      .describe(
        "When the normalisation statistics move: 'iteration' (shared by all envs, frozen for a rollout and advanced once per iteration, the first rollout with the prior mean 0, var 1) or 'step' (each env keeps its own, updated after every step, as Gymnasium's wrappers on each env of CleanRL's ppo_continuous_action and SB3's VecNormalize on one env). Both keep a run split over runners equal to the run in one process; evaluation uses the statistics of everything seen.",
      ),
  })
  .strict()
  .superRefine((h, ctx) => {
    const batch = h.numEnvs * h.numSteps;
    if (batch % h.numMinibatches !== 0) {
      ctx.addIssue({
        code: "custom",
        path: ["numMinibatches"],
        message: `must divide numEnvs × numSteps = ${batch}`,
      });
    }
    if (h.totalTimesteps < batch) {
      ctx.addIssue({
        code: "custom",
        path: ["totalTimesteps"],
        message: `must be at least one batch (numEnvs × numSteps = ${batch})`,
      });
    }
  });

export type Hyperparameters = z.infer<typeof hyperparametersSchema>;

/** The schema as JSON Schema (draft 2020-12), for the API's validation and OpenAPI document. */
export function hyperparametersJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(hyperparametersSchema) as Record<string, unknown>;
}

export const PRESETS = ["cleanrl", "zoo"] as const;
export type PresetName = (typeof PRESETS)[number];

/** One reported validation problem: which field and why. */
export interface HyperparameterIssue {
  field: string;
  message: string;
}

/** A configuration that does not validate; `issues` names every bad field. */
export class HyperparameterError extends Error {
  readonly issues: HyperparameterIssue[];
  constructor(issues: HyperparameterIssue[]) {
    super(`invalid hyperparameters: ${issues.map((i) => `${i.field}: ${i.message}`).join("; ")}`);
    this.name = "HyperparameterError";
    this.issues = issues;
  }
}

/**
 * CleanRL's defaults: `ppo.py` (discrete actions) and `ppo_continuous_action.py` (Box actions, below,
 * with its normalisation wrappers). The same continuous defaults serve the classic-control and the
 * MuJoCo envs, as CleanRL runs that one script on both.
 */
const CLEANRL_DISCRETE: Omit<Hyperparameters, "totalTimesteps"> = {
  seed: 1,
  numEnvs: 4,
  numSteps: 128,
  learningRate: 2.5e-4,
  annealLr: true,
  gamma: 0.99,
  gaeLambda: 0.95,
  numMinibatches: 4,
  updateEpochs: 4,
  normAdv: true,
  clipCoef: 0.2,
  annealClip: false,
  clipVloss: true,
  entCoef: 0.01,
  vfCoef: 0.5,
  maxGradNorm: 0.5,
  targetKl: null,
  adamEps: 1e-5,
  hiddenSizes: [64, 64],
  activation: "tanh",
};

/**
 * `ppo_continuous_action.py`: its env stack is ClipAction, NormalizeObservation, TransformObservation
 * (clip ±10), NormalizeReward(γ), TransformReward (clip ±10) — Gymnasium's wrappers, whose
 * bookkeeping `normalizeStyle: "gymnasium"` follows (rl/ppo/normalize.ts).
 */
const CLEANRL_CONTINUOUS: Omit<Hyperparameters, "totalTimesteps"> = {
  ...CLEANRL_DISCRETE,
  numEnvs: 1,
  numSteps: 2048,
  learningRate: 3e-4,
  numMinibatches: 32,
  updateEpochs: 10,
  entCoef: 0.0,
  normalizeObs: true,
  normalizeReward: true,
  clipObs: 10,
  clipReward: 10,
  normalizeStyle: "gymnasium",
  // Gymnasium's wrappers on each env, updated after every step, as CleanRL stacks them. On
  // HalfCheetah-v5 both rules learned alike over 12 seeds (bench/README.md).
  normalizeUpdate: "step",
};

/**
 * Stable-Baselines3's PPO defaults, the base of every rl-zoo entry: n_steps 2048, batch_size 64,
 * n_epochs 10, γ 0.99, λ 0.95, clip 0.2, no value clipping (clip_range_vf None), ent 0, vf 0.5,
 * max_grad_norm 0.5, Adam eps 1e-5 (set by ActorCriticPolicy), advantages normalised.
 */
const SB3_DEFAULTS = {
  normalize: false,
  useSde: false,
  sdeSampleFreq: -1,
  logStdInit: 0,
  orthoInit: true,
  learningRate: 3e-4,
  annealLr: false,
  numSteps: 2048,
  batchSize: 64,
  updateEpochs: 10,
  gamma: 0.99,
  gaeLambda: 0.95,
  clipCoef: 0.2,
  annealClip: false,
  clipVloss: false,
  entCoef: 0.0,
  vfCoef: 0.5,
  maxGradNorm: 0.5,
  hiddenSizes: [64, 64] as number[],
  activation: "tanh" as Activation,
};

interface ZooEntry extends Partial<typeof SB3_DEFAULTS> {
  numEnvs: number;
  totalTimesteps: number;
}

/**
 * rl-zoo's `policy_kwargs` for its tuned MuJoCo entries: `dict(log_std_init=-2, ortho_init=False,
 * activation_fn=nn.ReLU, net_arch=dict(pi=[256, 256], vf=[256, 256]))`.
 */
const ZOO_MUJOCO_NET = {
  logStdInit: -2,
  orthoInit: false,
  activation: "relu",
  hiddenSizes: [256, 256],
} satisfies Partial<typeof SB3_DEFAULTS>;

/**
 * rl-zoo's MuJoCo entries (`# === Mujoco Envs ===` in `ppo.yml`, commit 22e3ff2), tuned on v2–v4
 * of the envs. The zoo publishes none for v5, whose tasks are the same with v4's bugs fixed (Walker2d's
 * left-foot friction, contact forces in Ant's and Humanoid's observations, Reacher's and
 * InvertedDoublePendulum's observations: Gymnasium's MuJoCo changelog), so each v5 id takes its
 * predecessor's entry. Ant has no tuned entry: the zoo's `mujoco-defaults` (normalize, 1M steps,
 * SB3's defaults). Humanoid's entry asks 10M steps.
 */
const MUJOCO_ZOO: Record<string, ZooEntry> = {
  "HalfCheetah-v5": {
    normalize: true,
    numEnvs: 1,
    totalTimesteps: 1e6,
    batchSize: 64,
    numSteps: 512,
    gamma: 0.98,
    learningRate: 2.0633e-5,
    entCoef: 0.000401762,
    clipCoef: 0.1,
    updateEpochs: 20,
    gaeLambda: 0.92,
    maxGradNorm: 0.8,
    vfCoef: 0.58096,
    ...ZOO_MUJOCO_NET,
  },
  "Hopper-v5": {
    normalize: true,
    numEnvs: 1,
    totalTimesteps: 1e6,
    batchSize: 32,
    numSteps: 512,
    gamma: 0.999,
    learningRate: 9.80828e-5,
    entCoef: 0.00229519,
    clipCoef: 0.2,
    updateEpochs: 5,
    gaeLambda: 0.99,
    maxGradNorm: 0.7,
    vfCoef: 0.835671,
    ...ZOO_MUJOCO_NET,
  },
  "Walker2d-v5": {
    normalize: true,
    numEnvs: 1,
    totalTimesteps: 1e6,
    batchSize: 32,
    numSteps: 512,
    gamma: 0.99,
    learningRate: 5.05041e-5,
    entCoef: 0.000585045,
    clipCoef: 0.1,
    updateEpochs: 20,
    gaeLambda: 0.95,
    maxGradNorm: 1,
    vfCoef: 0.871923,
  },
  "Ant-v5": { normalize: true, numEnvs: 1, totalTimesteps: 1e6 },
  "Swimmer-v5": {
    normalize: true,
    numEnvs: 4,
    totalTimesteps: 1e6,
    gamma: 0.9999,
    numSteps: 1024,
    batchSize: 256,
    learningRate: 6e-4,
    gaeLambda: 0.98,
  },
  "Humanoid-v5": {
    normalize: true,
    numEnvs: 1,
    totalTimesteps: 1e7,
    batchSize: 256,
    numSteps: 512,
    gamma: 0.95,
    learningRate: 3.56987e-5,
    entCoef: 0.00238306,
    clipCoef: 0.3,
    updateEpochs: 5,
    gaeLambda: 0.9,
    maxGradNorm: 2,
    vfCoef: 0.431892,
    ...ZOO_MUJOCO_NET,
  },
  "InvertedDoublePendulum-v5": {
    normalize: true,
    numEnvs: 1,
    totalTimesteps: 1e6,
    batchSize: 512,
    numSteps: 128,
    gamma: 0.98,
    learningRate: 0.000155454,
    entCoef: 1.05057e-6,
    clipCoef: 0.4,
    updateEpochs: 10,
    gaeLambda: 0.8,
    maxGradNorm: 0.5,
    vfCoef: 0.695929,
  },
  "InvertedPendulum-v5": {
    normalize: true,
    numEnvs: 1,
    totalTimesteps: 1e6,
    batchSize: 64,
    numSteps: 32,
    gamma: 0.999,
    learningRate: 0.000222425,
    entCoef: 1.37976e-7,
    clipCoef: 0.4,
    updateEpochs: 5,
    gaeLambda: 0.9,
    maxGradNorm: 0.3,
    vfCoef: 0.19816,
  },
  "Reacher-v5": {
    normalize: true,
    numEnvs: 1,
    totalTimesteps: 1e6,
    batchSize: 32,
    numSteps: 512,
    gamma: 0.9,
    learningRate: 0.000104019,
    entCoef: 7.52585e-8,
    clipCoef: 0.3,
    updateEpochs: 5,
    gaeLambda: 1.0,
    maxGradNorm: 0.9,
    vfCoef: 0.950368,
  },
};

/**
 * rl-baselines3-zoo `hyperparams/ppo.yml`. SB3's `batch_size` (a minibatch size) becomes
 * numMinibatches = numEnvs·numSteps / batch_size (one minibatch when batch_size exceeds the rollout,
 * as SB3's buffer then yields the whole rollout). `lin_x` schedules are annealLr / annealClip.
 * `normalize: true` is VecNormalize(gamma=γ) (rl-zoo passes the algorithm's γ): normalizeObs and
 * normalizeReward in SB3's style, clip 10. `use_sde`, `sde_sample_freq` and `policy_kwargs`'
 * `log_std_init` / `ortho_init` map one to one (rl/ppo/gsde.ts).
 *
 * Two conversions keep the runs SB3's:
 * - SB3's value loss is `F.mse_loss(returns, values)` (ppo.py), ours CleanRL's ½·mean((V − R)²): the
 *   same gradient needs twice the coefficient, so vfCoef = 2·vf_coef (it matters beyond a rescale,
 *   since the gradient norm is clipped over all parameters together).
 * - SB3 keeps collecting rollouts while `num_timesteps < total_timesteps`, so it trains
 *   ⌈n_timesteps / batch⌉ whole rollouts; totalTimesteps is rounded up to that many batches.
 *
 * Source: DLR-RM/rl-baselines3-zoo `hyperparams/ppo.yml` (entries copied 2026-12 from commit 00128b5).
 */
const ZOO: Record<string, ZooEntry> = {
  "CartPole-v1": {
    numEnvs: 8,
    totalTimesteps: 1e5,
    numSteps: 32,
    batchSize: 256,
    gaeLambda: 0.8,
    gamma: 0.98,
    updateEpochs: 20,
    entCoef: 0.0,
    learningRate: 1e-3,
    annealLr: true,
    clipCoef: 0.2,
    annealClip: true,
  },
  "Acrobot-v1": {
    normalize: true,
    numEnvs: 16,
    totalTimesteps: 1e6,
    numSteps: 256,
    gaeLambda: 0.94,
    gamma: 0.99,
    updateEpochs: 4,
    entCoef: 0.0,
  },
  "MountainCar-v0": {
    normalize: true,
    numEnvs: 16,
    totalTimesteps: 1e6,
    numSteps: 16,
    gaeLambda: 0.98,
    gamma: 0.99,
    updateEpochs: 4,
    entCoef: 0.0,
  },
  "MountainCarContinuous-v0": {
    numEnvs: 1,
    totalTimesteps: 20_000,
    batchSize: 256,
    numSteps: 8,
    gamma: 0.9999,
    learningRate: 7.77e-5,
    entCoef: 0.00429,
    clipCoef: 0.1,
    updateEpochs: 10,
    gaeLambda: 0.9,
    maxGradNorm: 5,
    vfCoef: 0.19,
    normalize: true,
    useSde: true,
    logStdInit: -3.29,
    orthoInit: false,
  },
  "Pendulum-v1": {
    numEnvs: 4,
    totalTimesteps: 1e5,
    numSteps: 1024,
    gaeLambda: 0.95,
    gamma: 0.9,
    updateEpochs: 10,
    entCoef: 0.0,
    learningRate: 1e-3,
    clipCoef: 0.2,
    useSde: true,
    sdeSampleFreq: 4,
  },
  ...MUJOCO_ZOO,
};

/**
 * CleanRL's `total_timesteps` defaults: 500k for ppo.py, 1M for ppo_continuous_action.py. Which
 * script applies follows the action space (given for envs outside the registry, e.g. defined by code).
 */
function cleanrlPreset(envId: string, continuous = builtinActionKind(envId) === "box"): Hyperparameters {
  return continuous
    ? { ...CLEANRL_CONTINUOUS, totalTimesteps: 1_000_000 }
    : { ...CLEANRL_DISCRETE, totalTimesteps: 500_000 };
}

function zooPreset(envId: string): Hyperparameters {
  const entry = ZOO[envId];
  if (!entry) {
    throw new HyperparameterError([
      { field: "preset", message: `no zoo preset for ${envId} (known: ${Object.keys(ZOO).join(", ")})` },
    ]);
  }
  const e = { ...SB3_DEFAULTS, ...entry };
  const batch = e.numEnvs * e.numSteps;
  return {
    totalTimesteps: Math.ceil(e.totalTimesteps / batch) * batch,
    seed: 1,
    numEnvs: e.numEnvs,
    numSteps: e.numSteps,
    learningRate: e.learningRate,
    annealLr: e.annealLr,
    gamma: e.gamma,
    gaeLambda: e.gaeLambda,
    numMinibatches: Math.max(1, Math.floor(batch / e.batchSize)),
    updateEpochs: e.updateEpochs,
    normAdv: true,
    clipCoef: e.clipCoef,
    annealClip: e.annealClip,
    clipVloss: false,
    entCoef: e.entCoef,
    vfCoef: 2 * e.vfCoef,
    maxGradNorm: e.maxGradNorm,
    targetKl: null,
    adamEps: 1e-5,
    hiddenSizes: [...e.hiddenSizes],
    activation: e.activation,
    useSde: e.useSde,
    sdeSampleFreq: e.sdeSampleFreq,
    logStdInit: e.logStdInit,
    orthoInit: e.orthoInit,
    normalizeObs: e.normalize,
    normalizeReward: e.normalize,
    clipObs: 10,
    clipReward: 10,
    normalizeStyle: "sb3",
  };
}

/**
 * The preset's configuration for an env, before overrides. `actions` names the env's action space
 * kind where the env id alone does not tell it (an env defined by code): Box actions get CleanRL's
 * continuous-action defaults.
 */
export function presetFor(envId: string, preset: PresetName, actions?: "discrete" | "box"): Hyperparameters {
  if (preset === "cleanrl")
    return cleanrlPreset(envId, actions === undefined ? undefined : actions === "box");
  if (preset === "zoo") return zooPreset(envId);
  throw new HyperparameterError([
    { field: "preset", message: `unknown preset "${preset}" (${PRESETS.join(", ")})` },
  ]);
}

/** Where a preset's settings come from, for `proxima envs --presets` and docs/presets.md. */
export function presetSource(envId: string, preset: PresetName, actions?: "discrete" | "box"): string {
  if (preset === "zoo") {
    return `rl-baselines3-zoo hyperparams/ppo.yml, ${envId} entry (commit 00128b5); vfCoef = 2 × vf_coef, totalTimesteps rounded up to whole rollouts, as SB3 trains them`;
  }
  const continuous = (actions ?? builtinActionKind(envId)) === "box";
  return continuous
    ? "CleanRL ppo_continuous_action.py defaults, with its ClipAction + NormalizeObservation/NormalizeReward (clip 10) wrappers"
    : "CleanRL ppo.py defaults";
}

/** The presets that define settings for `envId` (zoo has no entry for some environments). */
export function presetsFor(envId: string): PresetName[] {
  return PRESETS.filter((preset) => {
    try {
      presetFor(envId, preset);
      return true;
    } catch {
      return false;
    }
  });
}

/** Validates a full configuration, reporting every bad or unknown field. */
export function validateHyperparameters(value: unknown): Hyperparameters {
  const parsed = hyperparametersSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues: HyperparameterIssue[] = [];
  for (const issue of parsed.error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys)
        issues.push({ field: [...issue.path, key].join("."), message: "unknown field" });
    } else {
      issues.push({ field: issue.path.join(".") || "(root)", message: issue.message });
    }
  }
  throw new HyperparameterError(issues);
}

/**
 * Settings that depend on the env's action space: gSDE exists for Box actions only (SB3's
 * `make_proba_distribution` builds a StateDependentNoiseDistribution for Box spaces and refuses
 * `use_sde` for the others).
 */
export function checkActionSpace(config: Hyperparameters, actions: "discrete" | "box"): void {
  if (config.useSde && actions !== "box") {
    throw new HyperparameterError([
      {
        field: "useSde",
        message: "gSDE needs a Box (continuous) action space; this env's actions are discrete",
      },
    ]);
  }
}

/**
 * The action kind of a registered env (from its declared spaces: no engine is loaded), or undefined
 * when the id is not a built-in env.
 */
function builtinActionKind(envId: string): "discrete" | "box" | undefined {
  try {
    return builtinSpaces(envId).actionSpace.kind;
  } catch {
    return undefined;
  }
}

/** The preset for `envId`, with `overrides` applied on top, validated as a whole. */
export function resolveHyperparameters(
  envId: string,
  preset: PresetName = "cleanrl",
  overrides: Record<string, unknown> = {},
  actions?: "discrete" | "box",
): Hyperparameters {
  const config = validateHyperparameters({ ...presetFor(envId, preset, actions), ...overrides });
  const kind = actions ?? builtinActionKind(envId);
  if (kind) checkActionSpace(config, kind);
  return config;
}
