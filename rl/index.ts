/**
 * The public face of `rl/`: environments (Gymnasium-faithful classic control, spaces, the vector
 * env), PPO (hyperparameters, trainer, rollout collector, learner, checkpoints), the ONNX export of a
 * trained policy and the seeded RNG.
 * Framework-free: nothing here imports Moleculer, Koa or the database.
 */
export { deriveSeed, Rng, type RngState } from "./core/rng.ts";
export type * from "./core/types.ts";
export * from "./envs/index.ts";
export {
  exportOnnx,
  exportPolicyOnnx,
  type OnnxExport,
  OnnxExportError,
  type OnnxExportOptions,
} from "./export/onnx.ts";
export * from "./ppo/index.ts";
