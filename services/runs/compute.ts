import type { EntityManager } from "@mikro-orm/postgresql";
import type { Role } from "../../contracts/roles.ts";
import { ForbiddenError } from "../../lib/errors.ts";
import { type CodeEnvSpec, isCodeEnvId } from "../../rl/envs/code-env.ts";
import { builtinSpaces, isEnvId } from "../../rl/envs/registry.ts";
import { type ActionSpec, parameterLayout } from "../../rl/nn/actor-critic.ts";
import type { Hyperparameters } from "../../rl/ppo/hyperparameters.ts";
import { findCodeEnv } from "./code-envs.ts";
import { type EffectiveQuota, holder } from "./quotas.ts";

/**
 * What one run asks of the machine that trains it, from its configuration and its env's spaces,
 * before anything is allocated: the compute quotas compare these with the role's limits.
 */

/** The sizes of an env's spaces that the network depends on. */
export interface EnvDims {
  obsDim: number;
  action: { kind: "discrete"; n: number } | { kind: "box"; dim: number };
}

export type CostConfig = Pick<
  Hyperparameters,
  "hiddenSizes" | "numEnvs" | "numSteps" | "numMinibatches" | "updateEpochs" | "useSde" | "activation"
>;

export interface ComputeCost {
  /** Network parameters: actor, log-std (vector, or gSDE's [last hidden, action dim] matrix), critic. */
  parameters: number;
  /** Gradient steps per iteration: updateEpochs × numMinibatches (each one an optimizer step). */
  gradientSteps: number;
  /** Transitions collected per iteration: numEnvs × numSteps. */
  samplesPerIteration: number;
  /** Estimated FLOPs per iteration (`estimateFlops`). */
  flopsPerIteration: number;
}

const product = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

/** The dims of a built-in env, or of an environment defined by code (its declared spec); null if unknown. */
export function envDims(envId: string, codeEnv?: CodeEnvSpec): EnvDims | null {
  if (codeEnv) {
    const a = codeEnv.actionSpace;
    return {
      obsDim: product(codeEnv.observationSpace.shape),
      action: a.kind === "discrete" ? { kind: "discrete", n: a.n } : { kind: "box", dim: product(a.shape) },
    };
  }
  if (!isEnvId(envId)) return null;
  const s = builtinSpaces(envId);
  const a = s.actionSpace;
  return {
    obsDim: s.observationSpace.low.length,
    action: a.kind === "discrete" ? { kind: "discrete", n: a.n } : { kind: "box", dim: a.low.length },
  };
}

/** The dims of a stored run's env (resume): its code env's spec is read again; null when that is gone. */
export async function storedEnvDims(em: EntityManager, envId: string): Promise<EnvDims | null> {
  if (!isCodeEnvId(envId)) return envDims(envId);
  const stored = await findCodeEnv(em, envId);
  return stored ? envDims(envId, stored.spec) : null;
}

/** Parameters of the network the trainer would build (rl/nn/actor-critic.ts `parameterLayout`, the one layout). */
export function parameterCount(
  config: Pick<CostConfig, "hiddenSizes" | "useSde" | "activation">,
  env: EnvDims,
): number {
  // parameterLayout reads only the action's size; the bounds are not needed to count.
  const action: ActionSpec =
    env.action.kind === "discrete"
      ? env.action
      : { kind: "box", dim: env.action.dim, low: new Float32Array(0), high: new Float32Array(0) };
  return parameterLayout({
    obsDim: env.obsDim,
    action,
    hiddenSizes: config.hiddenSizes,
    activation: config.activation,
    useSde: config.useSde === true && env.action.kind === "box",
  }).size;
}

/** FLOPs per parameter of one optimizer step: global-norm clipping (square, add, scale: 3) and Adam's
 * moments and update (m: 3, v: 4, step: 6), as rl/ppo/optim.ts computes them (Kingma & Ba 2015, Alg. 1). */
export const OPTIMIZER_FLOPS_PER_PARAMETER = 16;

/**
 * An estimate of the floating-point operations of one PPO iteration. A dense layer costs 2·in·out
 * FLOPs per sample forward (a multiply and an add per weight) and about twice that backward
 * (gradients of its input and of its weights), hence the usual "6 × parameters × tokens" for a
 * training step and "2 × parameters × tokens" for inference (Kaplan et al., "Scaling Laws for Neural
 * Language Models", 2020, §2.1). Here the tokens are transitions: the update passes over the batch
 * updateEpochs times through actor and critic (6·P·B·E), the rollout runs the policy and the value
 * head once per transition (2·P·B), and every gradient step clips and applies Adam to all P
 * parameters (16·P per step). Biases, activations and gSDE's variance product (≈ 2 × its matrix per
 * sample, already inside P) are within the estimate's slack. It is an estimate of arithmetic, not a
 * count and not a time (small minibatches are memory-bound: the gradient-steps limit bounds them),
 * and an upper bound when targetKl stops epochs early.
 */
export function estimateFlops(
  parameters: number,
  samples: number,
  updateEpochs: number,
  gradientSteps: number,
): number {
  return (
    6 * parameters * samples * updateEpochs +
    2 * parameters * samples +
    OPTIMIZER_FLOPS_PER_PARAMETER * parameters * gradientSteps
  );
}

export function computeCost(config: CostConfig, env: EnvDims): ComputeCost {
  const parameters = parameterCount(config, env);
  const samplesPerIteration = config.numEnvs * config.numSteps;
  const gradientSteps = config.updateEpochs * config.numMinibatches;
  return {
    parameters,
    gradientSteps,
    samplesPerIteration,
    flopsPerIteration: estimateFlops(parameters, samplesPerIteration, config.updateEpochs, gradientSteps),
  };
}

/** 65,536 below a million, then 3 significant digits with an SI prefix: 33.6M, 1M, 120G. */
export function formatCount(n: number): string {
  if (n < 1e6) return Math.round(n).toLocaleString("en-US");
  const prefixes = ["M", "G", "T", "P", "E"];
  let i = 0;
  let x = Number((n / 1e6).toPrecision(3));
  // Round before choosing the prefix, so that 999,950,000 prints 1G rather than 1000M.
  while (x >= 1000 && i < prefixes.length - 1) {
    x = Number((x / 1000).toPrecision(3));
    i += 1;
  }
  return `${x}${prefixes[i]}`;
}

/**
 * The compute limits of `role` on one run's configuration: a 403 naming the first limit exceeded,
 * the configuration's value and the limit (`data`: reason, value, limit), as the other quota errors.
 * `env` null (an environment defined by code that is gone): the limits that need its spaces are skipped.
 */
export function checkComputeQuota(
  role: Role,
  q: EffectiveQuota,
  config: CostConfig,
  env: EnvDims | null,
  context = "",
): void {
  const where = context ? ` (${context})` : "";
  const refuse = (reason: string, value: number, limit: number, message: string) =>
    new ForbiddenError(`${message}${where}`, { reason, value, limit });
  const cost = env ? computeCost(config, env) : null;
  if (cost && cost.parameters > q.parameters) {
    throw refuse(
      "parameters",
      cost.parameters,
      q.parameters,
      `hiddenSizes [${config.hiddenSizes.join(", ")}] gives ${formatCount(cost.parameters)} parameters (actor, critic and log-std); ${holder(role, q, "parameters")} may use ${formatCount(q.parameters)}`,
    );
  }
  const gradientSteps = config.updateEpochs * config.numMinibatches;
  if (gradientSteps > q.gradientSteps) {
    throw refuse(
      "gradientSteps",
      gradientSteps,
      q.gradientSteps,
      `updateEpochs × numMinibatches (${config.updateEpochs} × ${config.numMinibatches}) gives ${formatCount(gradientSteps)} gradient steps per iteration; ${holder(role, q, "gradientSteps")} may take ${formatCount(q.gradientSteps)}`,
    );
  }
  const samples = config.numEnvs * config.numSteps;
  if (samples > q.samplesPerIteration) {
    throw refuse(
      "samplesPerIteration",
      samples,
      q.samplesPerIteration,
      `numEnvs × numSteps (${config.numEnvs} × ${config.numSteps}) gives ${formatCount(samples)} samples per iteration; ${holder(role, q, "samplesPerIteration")} may collect ${formatCount(q.samplesPerIteration)}`,
    );
  }
  if (cost && cost.flopsPerIteration > q.flopsPerIteration) {
    throw refuse(
      "flopsPerIteration",
      cost.flopsPerIteration,
      q.flopsPerIteration,
      `the run needs an estimated ${formatCount(cost.flopsPerIteration)} FLOPs per iteration (${formatCount(cost.parameters)} parameters × (${formatCount(cost.samplesPerIteration)} samples × (6 × ${config.updateEpochs} epochs + 2) + ${OPTIMIZER_FLOPS_PER_PARAMETER} × ${formatCount(cost.gradientSteps)} gradient steps)); ${holder(role, q, "flopsPerIteration")} may use ${formatCount(q.flopsPerIteration)}`,
    );
  }
}
