/**
 * The registry of environment ids, after `gymnasium/envs/__init__.py`: each id names an env class,
 * its TimeLimit (`max_episode_steps`) and its `reward_threshold`.
 *
 * The MuJoCo envs need the engine, loaded once per process and asynchronously: `await prepareEnv(id)`
 * before `makeEnv(id)` (makeEnv throws ENGINE_NOT_LOADED otherwise). Their spaces are declared with
 * their registration, so that listing envs or sizing a network never loads the engine: a process that
 * only serves the API or learns (the learner gets its spaces from here) does not pay for it.
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
import { ANT_MODEL, AntEnv } from "./mujoco/ant.ts";
import { loadMujoco, type Mujoco, requireMujoco } from "./mujoco/engine.ts";
import { HALF_CHEETAH_MODEL, HalfCheetahEnv } from "./mujoco/half-cheetah.ts";
import { HOPPER_MODEL, HopperEnv } from "./mujoco/hopper.ts";
import { HUMANOID_MODEL, HumanoidEnv } from "./mujoco/humanoid.ts";
import {
  INVERTED_DOUBLE_PENDULUM_MODEL,
  InvertedDoublePendulumEnv,
} from "./mujoco/inverted-double-pendulum.ts";
import { INVERTED_PENDULUM_MODEL, InvertedPendulumEnv } from "./mujoco/inverted-pendulum.ts";
import { type MujocoEnv, type MujocoModelSpec, mujocoSpaces } from "./mujoco/mujoco-env.ts";
import { REACHER_MODEL, ReacherEnv } from "./mujoco/reacher.ts";
import { SWIMMER_MODEL, SwimmerEnv } from "./mujoco/swimmer.ts";
import { WALKER2D_MODEL, Walker2dEnv } from "./mujoco/walker2d.ts";
import { PendulumEnv } from "./pendulum.ts";

interface Registration {
  maxEpisodeSteps: number;
  rewardThreshold: number | undefined;
  create(spec: EnvSpec): ClassicControlEnv;
  /** Set for envs that need the MuJoCo engine, with their declared spaces. */
  mujoco?: { spaces: EnvSpaces };
}

/** A MuJoCo env's registration (gymnasium/envs/__init__.py's `register(id, entry_point, ...)`). */
function mujoco(
  model: MujocoModelSpec,
  Env: new (spec: EnvSpec, mj: Mujoco) => MujocoEnv,
  maxEpisodeSteps: number,
  rewardThreshold: number | undefined,
): Registration {
  return {
    maxEpisodeSteps,
    rewardThreshold,
    create: (spec) => new Env(spec, requireMujoco(spec.id)),
    mujoco: { spaces: mujocoSpaces(model) },
  };
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
  "HalfCheetah-v5": mujoco(HALF_CHEETAH_MODEL, HalfCheetahEnv, 1000, 4800.0),
  "Hopper-v5": mujoco(HOPPER_MODEL, HopperEnv, 1000, 3800.0),
  "Walker2d-v5": mujoco(WALKER2D_MODEL, Walker2dEnv, 1000, undefined),
  "Swimmer-v5": mujoco(SWIMMER_MODEL, SwimmerEnv, 1000, 360.0),
  "InvertedPendulum-v5": mujoco(INVERTED_PENDULUM_MODEL, InvertedPendulumEnv, 1000, 950.0),
  "InvertedDoublePendulum-v5": mujoco(
    INVERTED_DOUBLE_PENDULUM_MODEL,
    InvertedDoublePendulumEnv,
    1000,
    9100.0,
  ),
  "Reacher-v5": mujoco(REACHER_MODEL, ReacherEnv, 50, -3.75),
  "Ant-v5": mujoco(ANT_MODEL, AntEnv, 1000, 6000.0),
  "Humanoid-v5": mujoco(HUMANOID_MODEL, HumanoidEnv, 1000, undefined),
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
    throw new EnvError("UNKNOWN_ENV", unknownEnvMessage(id));
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

/**
 * Why an id is unknown: every known id, and first the versions offered when only the version is
 * wrong (`HalfCheetah-v4`: HalfCheetah-v5).
 */
export function unknownEnvMessage(id: string): string {
  const versions = offeredVersions(id);
  const offered =
    versions.length > 0 ? `: the versions offered are ${versions.join(", ")} (known ids: ` : " (known ids: ";
  return `unknown environment ${JSON.stringify(id)}${offered}${envIds().join(", ")})`;
}

/** The registered ids with the same name as `id` and another version (`Name-vN`). */
export function offeredVersions(id: string): EnvId[] {
  const name = /^(.+)-v\d+$/.exec(id)?.[1];
  if (name === undefined) return [];
  return envIds().filter((known) => known !== id && known.replace(/-v\d+$/, "") === name);
}

/** Does `id` need the MuJoCo engine (`prepareEnv` before `makeEnv`)? */
export function isMujocoEnvId(id: string): boolean {
  return isEnvId(id) && (REGISTRY[id] as Registration).mujoco !== undefined;
}

/**
 * Makes `makeEnv(id)` possible in this process: loads the MuJoCo engine (once) when `id` needs it,
 * and does nothing for the others (unknown ids included: makeEnv will say what is wrong).
 */
export async function prepareEnv(id: string): Promise<void> {
  if (isMujocoEnvId(id)) await loadMujoco();
}

/** The spaces of a registered env (or a benchmark variant), without loading an engine. */
export function builtinSpaces(id: string): EnvSpaces {
  const declared = isEnvId(id) ? (REGISTRY[id] as Registration).mujoco?.spaces : undefined;
  if (declared) return declared;
  const env = makeEnv(id);
  return { observationSpace: env.observationSpace, actionSpace: env.actionSpace };
}

export function listEnvs(): EnvInfo[] {
  return envIds().map((id) => {
    const reg: Registration = REGISTRY[id];
    const { observationSpace, actionSpace } = builtinSpaces(id);
    return {
      id,
      observationShape: [...observationSpace.shape],
      actionSpace: describeSpace(actionSpace as Space),
      maxEpisodeSteps: reg.maxEpisodeSteps,
      rewardThreshold: reg.rewardThreshold,
    };
  });
}
