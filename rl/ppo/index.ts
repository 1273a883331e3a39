/** The public API of `rl/ppo` and `rl/nn`: hyperparameters, trainer, rollouts, learner, checkpoints. */
export {
  type ActionSpec,
  type ActorCriticEngine,
  FusedActorCritic,
  initParameters,
  type Minibatch,
  type NetworkSpec,
  type ParameterLayout,
  parameterLayout,
} from "../nn/actor-critic.ts";
export { BACKENDS, BackendError, type BackendName, initBackend, parseBackendName } from "../nn/backend.ts";
export { type TensorSlice, tensorSlices } from "../nn/tensors.ts";
export {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  CheckpointError,
  type CheckpointManifest,
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  readCheckpoint,
  saveCheckpoint,
} from "./checkpoint.ts";
export { type EvaluationResult, evaluatePolicy, evaluatePolicyOn } from "./evaluation.ts";
export { computeGae, type GaeInput } from "./gae.ts";
export {
  ACTIVATIONS,
  type Activation,
  HyperparameterError,
  type HyperparameterIssue,
  type Hyperparameters,
  hyperparametersJsonSchema,
  hyperparametersSchema,
  PRESETS,
  type PresetName,
  presetFor,
  resolveHyperparameters,
  validateHyperparameters,
} from "./hyperparameters.ts";
export { explainedVariance, Learner, UpdateInterruptedError, type UpdateStats } from "./learner.ts";
export { type LossCoefficients, type LossStats, normalizeAdvantages, ppoLoss } from "./loss.ts";
export { actionSpecOf, type GemmName, networkSpecOf, spacesOf } from "./network.ts";
export type { NormalizationState, RunningMomentsState } from "./normalize.ts";
export { Adam, clipGradNorm } from "./optim.ts";
export {
  type EngineName,
  type IterationMetrics,
  type LearnerOptions,
  type PolicyWeights,
  PPOLearner,
  type TrainerState,
  WALL_TIME_KEYS,
} from "./ppo-learner.ts";
export { type EpisodeRecord, type Rollout, RolloutCollector, type RolloutCollectorState } from "./rollout.ts";
export { PPOTrainer, type TrainerOptions } from "./trainer.ts";
