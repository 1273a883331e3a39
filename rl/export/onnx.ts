/**
 * Policies leave the platform as ONNX: the deterministic policy of a PPO checkpoint (what
 * `evaluatePolicy` runs: argmax of the logits, or the mean clipped to the action bounds) as a model
 * that any ONNX runtime loads. The model takes RAW observations: a checkpoint's observation
 * normalisation (SB3's VecNormalize statistics, frozen as for evaluation) is folded into the graph.
 *
 *   obs   float32 [batch, obsDim]
 *     → (normalisation) Cast to double, Sub mean, Div sqrt(var + epsilon), Clip ±clipObs, Cast to float
 *     → (actor MLP) Gemm, Tanh|Relu per hidden layer, Gemm (logits or means)
 *     → Discrete: ArgMax over axis 1                    action int64 [batch]
 *       Box:      Max(low) then Min(high), per dimension action float32 [batch, dim]
 *
 * Only the actor is read, by tensor name (`actor.<l>.kernel` row-major [in, out], `actor.<l>.bias`, as
 * rl/nn/tensors.ts names them): the log-std (a vector, or gSDE's matrix) and the critic play no part in
 * the deterministic action. Opset 17, IR version 8 (ONNX 1.12), which onnxruntime ≥ 1.12 loads.
 */
import type { EnvSpaces } from "../core/types.ts";
import { isCodeEnvId } from "../envs/code-env.ts";
import { builtinSpaces, envIds } from "../envs/registry.ts";
import { actionSpecOf } from "../ppo/network.ts";
import type { NormalizationState } from "../ppo/normalize.ts";
import type { TrainerState } from "../ppo/ppo-learner.ts";
import { DataType, encodeModel, type OnnxNode, type OnnxTensor } from "./onnx-proto.ts";

export const ONNX_OPSET = 17;
export const ONNX_IR_VERSION = 8;
export const ONNX_INPUT = "obs";
export const ONNX_OUTPUT = "action";

export class OnnxExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OnnxExportError";
  }
}

export interface OnnxExportOptions {
  /**
   * The env's spaces, for an env the exporter cannot look up itself: an environment defined by code
   * (`custom:<id>`) declares its own. Built-in envs come from the registry.
   */
  spaces?: EnvSpaces;
}

/** What was exported, besides the bytes (for messages and metadata). */
export interface OnnxExport {
  bytes: Uint8Array;
  envId: string;
  obsDim: number;
  action: "discrete" | "box";
  normalized: boolean;
}

/** The spaces of the checkpoint's env, or an error that names the env. */
function envSpaces(envId: string, given: EnvSpaces | undefined): EnvSpaces {
  if (given) return given;
  if (isCodeEnvId(envId))
    throw new OnnxExportError(
      `cannot export a policy for ${envId}: it is an environment defined by code, and its declared observation and action spaces were not given`,
    );
  try {
    return builtinSpaces(envId);
  } catch {
    throw new OnnxExportError(
      `cannot export a policy for ${JSON.stringify(envId)}: the exporter does not know this environment's spaces (built-in envs: ${envIds().join(", ")}; custom:<id> envs need their declared spaces)`,
    );
  }
}

interface ActorLayer {
  kernel: Float32Array;
  bias: Float32Array;
  inDim: number;
  outDim: number;
}

/** The actor's layers from the checkpoint's named tensors, checked against the env's spaces. */
function actorLayers(state: TrainerState, obsDim: number, outDim: number): ActorLayer[] {
  const byName = new Map(state.tensors.map((t) => [t.name, t]));
  const layers: ActorLayer[] = [];
  for (let l = 0; byName.has(`actor.${l}.kernel`); l++) {
    const k = byName.get(`actor.${l}.kernel`)!;
    const b = byName.get(`actor.${l}.bias`);
    const [inDim, out] = k.shape;
    if (k.shape.length !== 2 || !b || b.shape.length !== 1 || b.shape[0] !== out)
      throw new OnnxExportError(`the checkpoint's actor layer ${l} is malformed (kernel or bias shape)`);
    const expectedIn = l === 0 ? obsDim : layers[l - 1].outDim;
    if (inDim !== expectedIn)
      throw new OnnxExportError(
        l === 0
          ? `the checkpoint's actor takes ${inDim} observations, ${state.envId} has ${obsDim}: not the env it was trained on`
          : `the checkpoint's actor layer ${l} takes ${inDim} inputs, the layer below gives ${expectedIn}`,
      );
    layers.push({
      kernel: state.params.subarray(k.offset, k.offset + k.size),
      bias: state.params.subarray(b.offset, b.offset + b.size),
      inDim,
      outDim: out,
    });
  }
  if (layers.length === 0) throw new OnnxExportError("the checkpoint has no actor tensors (actor.0.kernel)");
  const last = layers.at(-1)!.outDim;
  if (last !== outDim)
    throw new OnnxExportError(
      `the checkpoint's actor gives ${last} outputs, ${state.envId}'s action space needs ${outDim}: not the env it was trained on`,
    );
  return layers;
}

/**
 * SB3's VecNormalize `_normalize_obs`: clip((obs − mean) / sqrt(var + epsilon), −clip_obs, clip_obs),
 * computed in float64 (its RunningMeanStd holds float64 moments) and cast to float32, as the platform
 * does in JavaScript numbers (rl/ppo/normalize.ts `normalizeObsInto`, which evaluation uses). The graph
 * does the same operations in double, sqrt(var + epsilon) taken here in JavaScript, so that the
 * normalised observation is the same float32 value, bit for bit.
 */
function normalizationNodes(
  norm: NormalizationState,
  obsDim: number,
  input: string,
): { nodes: OnnxNode[]; initializers: OnnxTensor[]; output: string } {
  const obs = norm.obs!;
  if (obs.mean.length !== obsDim || obs.var.length !== obsDim)
    throw new OnnxExportError(
      `the checkpoint's observation statistics have ${obs.mean.length} means and ${obs.var.length} variances, the env has ${obsDim} observations`,
    );
  const std = Float64Array.from(obs.var, (v) => Math.sqrt(v + norm.epsilon));
  const scalar = (name: string, v: number): OnnxTensor => ({
    name,
    dataType: DataType.DOUBLE,
    dims: [],
    data: Float64Array.of(v),
  });
  return {
    initializers: [
      { name: "obs_rms.mean", dataType: DataType.DOUBLE, dims: [obsDim], data: Float64Array.from(obs.mean) },
      { name: "obs_rms.std", dataType: DataType.DOUBLE, dims: [obsDim], data: std },
      scalar("obs_rms.clip_low", -norm.clipObs),
      scalar("obs_rms.clip_high", norm.clipObs),
    ],
    nodes: [
      {
        opType: "Cast",
        name: "normalize.cast_in",
        inputs: [input],
        outputs: ["obs_f64"],
        attributes: [{ name: "to", int: DataType.DOUBLE }],
      },
      {
        opType: "Sub",
        name: "normalize.center",
        inputs: ["obs_f64", "obs_rms.mean"],
        outputs: ["obs_centered"],
      },
      {
        opType: "Div",
        name: "normalize.scale",
        inputs: ["obs_centered", "obs_rms.std"],
        outputs: ["obs_scaled"],
      },
      {
        opType: "Clip",
        name: "normalize.clip",
        inputs: ["obs_scaled", "obs_rms.clip_low", "obs_rms.clip_high"],
        outputs: ["obs_clipped"],
      },
      {
        opType: "Cast",
        name: "normalize.cast_out",
        inputs: ["obs_clipped"],
        outputs: ["obs_normalized"],
        attributes: [{ name: "to", int: DataType.FLOAT }],
      },
    ],
    output: "obs_normalized",
  };
}

/** The deterministic policy of a checkpoint as an ONNX model (see the graph above). */
export function exportPolicyOnnx(state: TrainerState, options: OnnxExportOptions = {}): OnnxExport {
  const spaces = envSpaces(state.envId, options.spaces);
  const obsDim = spaces.observationSpace.low.length;
  const action = actionSpecOf(spaces);
  const { activation } = state.config;
  const outDim = action.kind === "discrete" ? action.n : action.dim;
  const layers = actorLayers(state, obsDim, outDim);

  const nodes: OnnxNode[] = [];
  const initializers: OnnxTensor[] = [];
  let h = ONNX_INPUT;
  const norm = state.normalization;
  if (norm?.obs) {
    const n = normalizationNodes(norm, obsDim, h);
    nodes.push(...n.nodes);
    initializers.push(...n.initializers);
    h = n.output;
  }
  layers.forEach((layer, l) => {
    const kernel = `actor.${l}.kernel`;
    const bias = `actor.${l}.bias`;
    initializers.push(
      { name: kernel, dataType: DataType.FLOAT, dims: [layer.inDim, layer.outDim], data: layer.kernel },
      { name: bias, dataType: DataType.FLOAT, dims: [layer.outDim], data: layer.bias },
    );
    // Gemm: Y = A·B + C, with C [out] broadcast over the batch: one dense layer.
    const linear = `actor.${l}.linear`;
    nodes.push({ opType: "Gemm", name: linear, inputs: [h, kernel, bias], outputs: [linear] });
    h = linear;
    if (l < layers.length - 1) {
      const act = `actor.${l}.${activation}`;
      nodes.push({ opType: activation === "tanh" ? "Tanh" : "Relu", name: act, inputs: [h], outputs: [act] });
      h = act;
    }
  });

  const batch = "batch";
  if (action.kind === "discrete") {
    // ArgMax keeps the first of equal maxima (select_last_index = 0), as greedyActions does.
    nodes.push({
      opType: "ArgMax",
      name: "greedy.argmax",
      inputs: [h],
      outputs: [ONNX_OUTPUT],
      attributes: [
        { name: "axis", int: 1 },
        { name: "keepdims", int: 0 },
        { name: "select_last_index", int: 0 },
      ],
    });
  } else {
    // min(max(mean, low), high) per dimension, in greedyActions' order (Clip takes scalar bounds only).
    initializers.push(
      {
        name: "action_space.low",
        dataType: DataType.FLOAT,
        dims: [action.dim],
        data: Float32Array.from(action.low),
      },
      {
        name: "action_space.high",
        dataType: DataType.FLOAT,
        dims: [action.dim],
        data: Float32Array.from(action.high),
      },
    );
    nodes.push(
      { opType: "Max", name: "greedy.low", inputs: [h, "action_space.low"], outputs: ["action_above_low"] },
      {
        opType: "Min",
        name: "greedy.high",
        inputs: ["action_above_low", "action_space.high"],
        outputs: [ONNX_OUTPUT],
      },
    );
  }

  const normalized = Boolean(norm?.obs);
  const actionDoc =
    action.kind === "discrete"
      ? `Discrete(${action.n}): argmax of the logits`
      : `Box(${action.dim}): the policy mean clipped to the action bounds`;
  const bytes = encodeModel({
    irVersion: ONNX_IR_VERSION,
    opsetVersion: ONNX_OPSET,
    producerName: "proxima",
    producerVersion: "1",
    docString: `Deterministic PPO policy for ${state.envId} (${actionDoc}), at global step ${state.counters.globalStep}. Input: raw observations${normalized ? " (normalisation folded in)" : ""}.`,
    graph: {
      name: "policy",
      nodes,
      initializers,
      inputs: [
        { name: ONNX_INPUT, elemType: DataType.FLOAT, dims: [batch, obsDim], docString: "raw observations" },
      ],
      outputs:
        action.kind === "discrete"
          ? [{ name: ONNX_OUTPUT, elemType: DataType.INT64, dims: [batch], docString: actionDoc }]
          : [
              {
                name: ONNX_OUTPUT,
                elemType: DataType.FLOAT,
                dims: [batch, action.dim],
                docString: actionDoc,
              },
            ],
    },
    metadata: {
      env_id: state.envId,
      global_step: String(state.counters.globalStep),
      iteration: String(state.counters.iteration),
      action_space: action.kind,
      observation_normalization: normalized ? "folded" : "none",
    },
  });
  return { bytes, envId: state.envId, obsDim, action: action.kind, normalized };
}

/** The model's bytes alone: `exportPolicyOnnx(state, options).bytes`. */
export function exportOnnx(state: TrainerState, options: OnnxExportOptions = {}): Uint8Array {
  return exportPolicyOnnx(state, options).bytes;
}
