/**
 * The registry of environment ids, after `gymnasium/envs/__init__.py`: each id names an env class,
 * its TimeLimit (`max_episode_steps`) and its `reward_threshold`.
 */

import { describeSpace } from "../core/spaces.ts";
import type { EnvSpaces, Space } from "../core/types.ts";
import { AcrobotEnv } from "./acrobot.ts";
import { CartPoleEnv } from "./cartpole.ts";
import { isCodeEnvId } from "./code-env.ts";
import { CostlyCartPoleEnv, parseCostlyEnvId } from "./costly.ts";
import type { ClassicControlEnv, EnvSpec } from "./env-base.ts";
import { EnvError } from "./errors.ts";
import { MountainCarEnv } from "./mountain-car.ts";
import { MountainCarContinuousEnv } from "./mountain-car-continuous.ts";
import { PendulumEnv } from "./pendulum.ts";

interface Registration {
  maxEpisodeSteps: number;
  rewardThreshold: number | undefined;
  create(spec: EnvSpec): ClassicControlEnv;
}

const REGISTRY = {
  "CartPole-v0": { maxEpisodeSteps: 200, rewardThreshold: 195.0, create: (spec) => new CartPoleEnv(spec) },
  "CartPole-v1": { maxEpisodeSteps: 500, rewardThreshold: 475.0, create: (spec) => new CartPoleEnv(spec) },
  "Acrobot-v1": { maxEpisodeSteps: 500, rewardThreshold: -100.0, create: (spec) => new AcrobotEnv(spec) },
  "MountainCar-v0": {
    maxEpisodeSteps: 200,
    rewardThreshold: -110.0,
    create: (spec) => new MountainCarEnv(spec),
  },
  "MountainCarContinuous-v0": {
    maxEpisodeSteps: 999,
    rewardThreshold: 90.0,
    create: (spec) => new MountainCarContinuousEnv(spec),
  },
  "Pendulum-v1": {
    maxEpisodeSteps: 200,
    rewardThreshold: undefined,
    create: (spec) => new PendulumEnv(spec),
  },
} satisfies Record<string, Registration>;

export type EnvId = keyof typeof REGISTRY;

export interface MakeEnvOptions {
  /** Overrides the registered TimeLimit (Gymnasium's `gym.make(id, max_episode_steps=...)`). */
  maxEpisodeSteps?: number;
}

export interface EnvInfo {
  id: EnvId;
  observationShape: number[];
  actionSpace: string;
  maxEpisodeSteps: number;
  rewardThreshold: number | undefined;
}

export function isEnvId(id: unknown): id is EnvId {
  return typeof id === "string" && Object.hasOwn(REGISTRY, id);
}

export function envIds(): EnvId[] {
  return Object.keys(REGISTRY) as EnvId[];
}

/** Builds a registered env, or a benchmark-only costly variant (`CartPole-v1-costly-<µs>us`, costly.ts). */
export function makeEnv(id: string, options: MakeEnvOptions = {}): ClassicControlEnv {
  const costly = parseCostlyEnvId(id);
  if (!costly && !isEnvId(id)) {
    if (isCodeEnvId(id)) {
      throw new EnvError(
        "UNKNOWN_ENV",
        `${id} is an environment defined by code: it runs in the platform's sandbox, not in rl/ itself`,
      );
    }
    throw new EnvError(
      "UNKNOWN_ENV",
      `unknown environment id ${JSON.stringify(id)}; known ids: ${envIds().join(", ")}`,
    );
  }
  const reg: Registration = costly
    ? { ...REGISTRY[costly.baseId], create: (spec) => new CostlyCartPoleEnv(spec, costly.stepCostMicros) }
    : REGISTRY[id as EnvId];
  const maxEpisodeSteps = options.maxEpisodeSteps ?? reg.maxEpisodeSteps;
  if (!Number.isInteger(maxEpisodeSteps) || maxEpisodeSteps <= 0) {
    throw new EnvError(
      "INVALID_OPTION",
      `maxEpisodeSteps must be a positive integer, got ${maxEpisodeSteps}`,
      id,
    );
  }
  return reg.create({ id, maxEpisodeSteps, rewardThreshold: reg.rewardThreshold });
}

/** The spaces of a registered env (or a benchmark variant). */
export function builtinSpaces(id: string): EnvSpaces {
  const env = makeEnv(id);
  return { observationSpace: env.observationSpace, actionSpace: env.actionSpace };
}

export function listEnvs(): EnvInfo[] {
  return envIds().map((id) => {
    const env = makeEnv(id);
    return {
      id,
      observationShape: [...env.observationSpace.shape],
      actionSpace: describeSpace(env.actionSpace as Space),
      maxEpisodeSteps: env.maxEpisodeSteps,
      rewardThreshold: env.rewardThreshold,
    };
  });
}
