/**
 * PPO checkpoints. A checkpoint is everything needed to continue a run exactly as if it had never
 * stopped: parameters, Adam state, RNG states (action sampling, minibatch shuffles, and each
 * environment's full state via VectorEnv.getState), counters and the resolved configuration.
 *
 * Directory form (format version 1):
 *   manifest.json  {
 *     format: "proxima-ppo-checkpoint", version: 1, envId, config (resolved hyperparameters),
 *     counters: { globalStep, iteration, elapsedSeconds },
 *     rng: { collector: { rng: RngState, env: VectorEnvState, policyVersion }, learner: RngState },
 *     adam: { step },
 *     normalization?: { obs: { mean, var, count } | null, ret: { mean, var, count } | null,
 *                       clipObs, clipReward, epsilon }   (rl/ppo/normalize.ts; absent: none)
 *     weights: { file: "weights.bin", byteLength, byteOrder: "little-endian" },
 *     tensors: [{ name, group: "params" | "adam_m" | "adam_v", shape, dtype: "float32", byteOffset, byteLength }]
 *   }
 *   weights.bin    the tensors back to back as little-endian float32: all of θ (actor layers,
 *                  actor_logstd for Box actions, critic layers; kernels row-major [in, out] as tfjs
 *                  dense kernels), then Adam's first moments, then its second moments, same order.
 *
 * Single-blob form (for a database column), `encodeCheckpoint`:
 *   bytes 0..7   ASCII "PRXCKPT1"
 *   bytes 8..11  uint32 LE n = manifest length in bytes
 *   then         the manifest as UTF-8 JSON, zero-padded to a multiple of 4 bytes
 *   then         weights.bin
 */
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TensorSlice } from "../nn/tensors.ts";
import { validateHyperparameters } from "./hyperparameters.ts";
import type { NormalizationState } from "./normalize.ts";
import type { TrainerState } from "./ppo-learner.ts";

export const CHECKPOINT_FORMAT = "proxima-ppo-checkpoint";
export const CHECKPOINT_VERSION = 1;
const MAGIC = "PRXCKPT1";

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckpointError";
  }
}

interface ManifestTensor {
  name: string;
  group: "params" | "adam_m" | "adam_v";
  shape: number[];
  dtype: "float32";
  byteOffset: number;
  byteLength: number;
}

export interface CheckpointManifest {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  envId: string;
  config: TrainerState["config"];
  counters: TrainerState["counters"];
  rng: TrainerState["rng"];
  adam: { step: number };
  /** Observation/reward normalisation statistics (float64 moments, exact in JSON); absent when none. */
  normalization?: NormalizationState;
  weights: { file: string; byteLength: number; byteOrder: "little-endian" };
  tensors: ManifestTensor[];
}

function buildManifest(state: TrainerState): CheckpointManifest {
  const n = state.params.length;
  const tensors: ManifestTensor[] = [];
  (["params", "adam_m", "adam_v"] as const).forEach((group, g) => {
    for (const s of state.tensors) {
      tensors.push({
        name: s.name,
        group,
        shape: s.shape,
        dtype: "float32",
        byteOffset: (g * n + s.offset) * 4,
        byteLength: s.size * 4,
      });
    }
  });
  return {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    envId: state.envId,
    config: state.config,
    counters: state.counters,
    rng: state.rng,
    adam: { step: state.adam.step },
    ...(state.normalization ? { normalization: state.normalization } : {}),
    weights: { file: "weights.bin", byteLength: 3 * n * 4, byteOrder: "little-endian" },
    tensors,
  };
}

function encodeWeights(state: TrainerState): Uint8Array {
  const n = state.params.length;
  const bytes = new Uint8Array(3 * n * 4);
  const view = new DataView(bytes.buffer);
  [state.params, state.adam.m, state.adam.v].forEach((arr, g) => {
    for (let i = 0; i < n; i++) view.setFloat32((g * n + i) * 4, arr[i], true);
  });
  return bytes;
}

function decodeState(manifest: unknown, weights: Uint8Array): TrainerState {
  const m = manifest as CheckpointManifest;
  if (typeof m !== "object" || m === null || m.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError("not a proxima PPO checkpoint (manifest format field missing or wrong)");
  }
  if (m.version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(
      `unsupported checkpoint version ${m.version} (this build reads ${CHECKPOINT_VERSION})`,
    );
  }
  if (weights.byteLength !== m.weights?.byteLength || weights.byteLength % 12 !== 0) {
    throw new CheckpointError(
      `weights are ${weights.byteLength} bytes, the manifest says ${m.weights?.byteLength}`,
    );
  }
  const n = weights.byteLength / 12;
  const view = new DataView(weights.buffer, weights.byteOffset, weights.byteLength);
  const read = (g: number): Float32Array => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getFloat32((g * n + i) * 4, true);
    return out;
  };
  const tensors: TensorSlice[] = m.tensors
    .filter((t) => t.group === "params")
    .map((t) => ({ name: t.name, shape: t.shape, offset: t.byteOffset / 4, size: t.byteLength / 4 }));
  let config: TrainerState["config"];
  try {
    config = validateHyperparameters(m.config);
  } catch (err) {
    throw new CheckpointError(
      `checkpoint config is invalid: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return {
    envId: m.envId,
    config,
    params: read(0),
    adam: { step: m.adam.step, m: read(1), v: read(2) },
    rng: m.rng,
    counters: m.counters,
    tensors,
    ...(m.normalization ? { normalization: checkNormalization(m.normalization) } : {}),
  };
}

/** The manifest's normalisation statistics, checked for shape (a checkpoint written by hand may lie). */
function checkNormalization(n: NormalizationState): NormalizationState {
  const moments = (m: unknown): boolean => {
    if (m === null) return true;
    const x = m as { mean?: unknown; var?: unknown; count?: unknown };
    return (
      Array.isArray(x.mean) &&
      Array.isArray(x.var) &&
      x.mean.length === x.var.length &&
      typeof x.count === "number" &&
      x.count > 0
    );
  };
  if (
    typeof n !== "object" ||
    !moments(n.obs) ||
    !moments(n.ret) ||
    typeof n.clipObs !== "number" ||
    typeof n.clipReward !== "number" ||
    typeof n.epsilon !== "number"
  )
    throw new CheckpointError("checkpoint normalization statistics are malformed");
  return n;
}

/** Writes manifest.json and weights.bin into `dir` (created if needed; files replaced atomically). */
export async function saveCheckpoint(dir: string, state: TrainerState): Promise<void> {
  await mkdir(dir, { recursive: true });
  const weights = encodeWeights(state);
  const manifest = `${JSON.stringify(buildManifest(state), null, 2)}\n`;
  await writeFile(join(dir, "weights.bin.tmp"), weights);
  await writeFile(join(dir, "manifest.json.tmp"), manifest);
  await rename(join(dir, "weights.bin.tmp"), join(dir, "weights.bin"));
  await rename(join(dir, "manifest.json.tmp"), join(dir, "manifest.json"));
}

/**
 * Reads either form: a checkpoint directory (manifest + weights) or a single-blob file, as the API's
 * checkpoint download serves it. Every failure is a CheckpointError naming the path.
 */
export async function readCheckpoint(path: string): Promise<TrainerState> {
  const isDirectory = await stat(path).then(
    (info) => info.isDirectory(),
    (err: unknown) => {
      throw new CheckpointError(
        `cannot read checkpoint ${path}: ${err instanceof Error ? err.message : String(err)}`,
      );
    },
  );
  if (isDirectory) return loadCheckpoint(path);
  const bytes = await readFile(path).catch((err: unknown) => {
    throw new CheckpointError(
      `cannot read checkpoint ${path}: ${err instanceof Error ? err.message : String(err)}`,
    );
  });
  return decodeCheckpoint(bytes);
}

export async function loadCheckpoint(dir: string): Promise<TrainerState> {
  let manifestText: string;
  let weights: Uint8Array;
  try {
    manifestText = await readFile(join(dir, "manifest.json"), "utf8");
    weights = await readFile(join(dir, "weights.bin"));
  } catch (err) {
    throw new CheckpointError(
      `cannot read checkpoint in ${dir}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(manifestText);
  } catch {
    throw new CheckpointError(`cannot read checkpoint in ${dir}: manifest.json is not valid JSON`);
  }
  return decodeState(manifest, weights);
}

/** The checkpoint as one byte string (see the format above). */
export function encodeCheckpoint(state: TrainerState): Uint8Array {
  const manifest = new TextEncoder().encode(JSON.stringify(buildManifest(state)));
  const padded = (manifest.length + 3) & ~3;
  const weights = encodeWeights(state);
  const out = new Uint8Array(12 + padded + weights.length);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(8, manifest.length, true);
  out.set(manifest, 12);
  out.set(weights, 12 + padded);
  return out;
}

export function decodeCheckpoint(bytes: Uint8Array): TrainerState {
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw new CheckpointError("not a proxima PPO checkpoint blob (bad magic)");
  }
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
  const padded = (length + 3) & ~3;
  if (12 + padded > bytes.length) throw new CheckpointError("truncated checkpoint blob");
  let manifest: unknown;
  try {
    manifest = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + length)));
  } catch {
    throw new CheckpointError("checkpoint blob manifest is not valid JSON");
  }
  return decodeState(manifest, bytes.subarray(12 + padded));
}
