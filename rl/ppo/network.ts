/**
 * What the learner, the env runners and the evaluation all derive the same way: the network of a
 * run's spaces and configuration, and the matrix products its fused kernels run on.
 */
import type { EnvSpaces } from "../core/types.ts";
import type { VectorEnvSpaces } from "../envs/vector.ts";
import type { ActionSpec, NetworkSpec } from "../nn/actor-critic.ts";
import { type Gemm, jsGemm } from "../nn/gemm.ts";
import { checkActionSpace, type Hyperparameters } from "./hyperparameters.ts";

export type GemmName = "js" | "wasm";

/** The spaces of a vector env's sub-envs. */
export function spacesOf(
  env: Pick<VectorEnvSpaces, "singleObservationSpace" | "singleActionSpace">,
): EnvSpaces {
  return { observationSpace: env.singleObservationSpace, actionSpace: env.singleActionSpace };
}

export function actionSpecOf(spaces: EnvSpaces): ActionSpec {
  const s = spaces.actionSpace;
  return s.kind === "discrete"
    ? { kind: "discrete", n: s.n }
    : { kind: "box", dim: s.low.length, low: s.low, high: s.high };
}

export function networkSpecOf(spaces: EnvSpaces, config: Hyperparameters): NetworkSpec {
  checkActionSpace(config, spaces.actionSpace.kind);
  return {
    obsDim: spaces.observationSpace.low.length,
    action: actionSpecOf(spaces),
    hiddenSizes: config.hiddenSizes,
    activation: config.activation,
    useSde: config.useSde ?? false,
  };
}

/**
 * The named GEMMs; by default WebAssembly SIMD where the runtime has it, else JavaScript's. A Gemm
 * itself is taken as it is (bench:kernel times variants of the products).
 */
export async function loadGemm(name?: GemmName | Gemm): Promise<Gemm> {
  if (typeof name === "object") return name;
  if (name === "js") return jsGemm;
  const { wasmGemm } = await import("../nn/gemm-wasm.ts");
  const gemm = wasmGemm();
  if (gemm) return gemm;
  if (name === "wasm") throw new Error("WebAssembly SIMD is not available in this runtime");
  return jsGemm;
}
