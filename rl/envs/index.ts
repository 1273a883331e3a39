/** The public API of `rl/envs`: environments, the registry, the vector env, spaces and errors. */

export {
  actionDim,
  box,
  contains,
  describeSpace,
  discrete,
  flatDim,
  sample,
  spaceFromJson,
  spaceToJson,
} from "../core/spaces.ts";
export type {
  Action,
  BoxSpace,
  DiscreteSpace,
  Env,
  EnvSpaces,
  Info,
  JsonSpace,
  ResetOptions,
  ResetResult,
  Space,
  StepResult,
} from "../core/types.ts";
export { AcrobotEnv } from "./acrobot.ts";
export { CartPoleEnv } from "./cartpole.ts";
export {
  CODE_ENV_PREFIX,
  type CodeEnvDefinition,
  type CodeEnvSpec,
  codeEnvId,
  codeEnvSpaces,
  codeEnvSubmissionId,
  isCodeEnvId,
} from "./code-env.ts";
export { ClassicControlEnv, type EnvSnapshot, type EpisodePhase } from "./env-base.ts";
export { EnvError, type EnvErrorCode } from "./errors.ts";
export { MountainCarEnv } from "./mountain-car.ts";
export { MountainCarContinuousEnv } from "./mountain-car-continuous.ts";
export { AntEnv } from "./mujoco/ant.ts";
export { loadedMujoco, loadMujoco, type Mujoco, MujocoSim } from "./mujoco/engine.ts";
export { HalfCheetahEnv } from "./mujoco/half-cheetah.ts";
export { HopperEnv } from "./mujoco/hopper.ts";
export { HumanoidEnv } from "./mujoco/humanoid.ts";
export { InvertedDoublePendulumEnv } from "./mujoco/inverted-double-pendulum.ts";
export { InvertedPendulumEnv } from "./mujoco/inverted-pendulum.ts";
export { controlCost, MujocoEnv, type MujocoModelSpec, mujocoSpaces } from "./mujoco/mujoco-env.ts";
export { ReacherEnv } from "./mujoco/reacher.ts";
export { SwimmerEnv } from "./mujoco/swimmer.ts";
export { Walker2dEnv } from "./mujoco/walker2d.ts";
export { PendulumEnv } from "./pendulum.ts";
export {
  builtinSpaces,
  type EnvId,
  type EnvInfo,
  envIds,
  isEnvId,
  isMujocoEnvId,
  listEnvs,
  type MakeEnvOptions,
  makeEnv,
  offeredVersions,
  prepareEnv,
  unknownEnvMessage,
} from "./registry.ts";
export {
  type AsyncVectorEnv,
  type CodeEnvSnapshot,
  type EpisodeStats,
  makeVectorEnv,
  type SubEnvSnapshot,
  VectorEnv,
  type VectorEnvSpaces,
  type VectorEnvState,
  type VectorStepResult,
} from "./vector.ts";
