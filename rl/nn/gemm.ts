/**
 * The matrix products of an MLP's forward and backward pass, on row-major Float32Arrays, with the
 * element-wise work fused in so that each output is written once:
 *   dense:  C[M,N] = act(A[M,K] · B[K,N] + bias)                 forward of a layer
 *   nnGrad: C[M,N] = (A[M,K] · B[K,N]) ⊙ actGrad(H[M,N])         dL/dz of the layer below (B = Wᵀ)
 *   tn:     C[K,N] = A[M,K]ᵀ · B[M,N]                              weight gradient xᵀ·dy
 * A portable JavaScript implementation is here; `gemm-wasm.ts` provides a WebAssembly SIMD one that
 * works on views of an Arena's memory.
 */
import type { Activation } from "../ppo/hyperparameters.ts";

/** "linear" for output layers. */
export type LayerActivation = Activation | "linear";

export interface Gemm {
  readonly name: string;
  dense(
    A: Float32Array,
    B: Float32Array,
    bias: Float32Array,
    C: Float32Array,
    M: number,
    K: number,
    N: number,
    act: LayerActivation,
  ): void;
  nnGrad(
    A: Float32Array,
    B: Float32Array,
    H: Float32Array,
    C: Float32Array,
    M: number,
    K: number,
    N: number,
    act: Activation,
  ): void;
  tn(A: Float32Array, B: Float32Array, C: Float32Array, M: number, K: number, N: number): void;
}

/**
 * tanh as Eigen's float rational approximation (`ptanh_float`: a degree-13/6 odd/even polynomial
 * ratio on [−7.9053, 7.9053]); within 3e-7 of Math.tanh everywhere and much cheaper. The WebAssembly
 * kernel evaluates the same formula, so both GEMMs apply the same function.
 */
export const TANH_CLAMP = 7.905311107635498;
export const TANH_ALPHA = [
  4.89352455891786e-3, 6.37261928875436e-4, 1.48572235717979e-5, 5.12229709037114e-8, -8.60467152213735e-11,
  2.00018790482477e-13, -2.76076847742355e-16,
] as const;
export const TANH_BETA = [
  4.89352518554385e-3, 2.268434632439e-3, 1.18534705686654e-4, 1.19825839466702e-6,
] as const;

export function tanhApprox(x: number): number {
  x = Math.max(-TANH_CLAMP, Math.min(x, TANH_CLAMP));
  const x2 = x * x;
  let p = x2 * TANH_ALPHA[6] + TANH_ALPHA[5];
  p = p * x2 + TANH_ALPHA[4];
  p = p * x2 + TANH_ALPHA[3];
  p = p * x2 + TANH_ALPHA[2];
  p = p * x2 + TANH_ALPHA[1];
  p = p * x2 + TANH_ALPHA[0];
  p = p * x;
  let q = x2 * TANH_BETA[3] + TANH_BETA[2];
  q = q * x2 + TANH_BETA[1];
  q = q * x2 + TANH_BETA[0];
  return p / q;
}

function applyActivation(act: LayerActivation, C: Float32Array, n: number): void {
  if (act === "tanh") for (let i = 0; i < n; i++) C[i] = tanhApprox(C[i]);
  else if (act === "relu") for (let i = 0; i < n; i++) if (C[i] < 0) C[i] = 0;
}

/** Multiplies C by the activation's derivative, expressed through its output H. */
export function applyActivationGrad(act: Activation, H: Float32Array, C: Float32Array, n: number): void {
  if (act === "tanh") for (let i = 0; i < n; i++) C[i] *= 1 - H[i] * H[i];
  else for (let i = 0; i < n; i++) if (H[i] <= 0) C[i] = 0;
}

function nn(A: Float32Array, B: Float32Array, C: Float32Array, M: number, K: number, N: number): void {
  for (let i = 0; i < M; i++) {
    const ci = i * N;
    const ai = i * K;
    for (let k = 0; k < K; k++) {
      const a = A[ai + k];
      const bk = k * N;
      for (let j = 0; j < N; j++) C[ci + j] += a * B[bk + j];
    }
  }
}

export const jsGemm: Gemm = {
  name: "js",
  dense(A, B, bias, C, M, K, N, act) {
    for (let i = 0; i < M; i++) C.set(bias.subarray(0, N), i * N);
    nn(A, B, C, M, K, N);
    applyActivation(act, C, M * N);
  },
  nnGrad(A, B, H, C, M, K, N, act) {
    C.fill(0, 0, M * N);
    nn(A, B, C, M, K, N);
    applyActivationGrad(act, H, C, M * N);
  },
  tn(A, B, C, M, K, N) {
    C.fill(0, 0, K * N);
    for (let i = 0; i < M; i++) {
      const ai = i * K;
      const bi = i * N;
      for (let k = 0; k < K; k++) {
        const a = A[ai + k];
        const ck = k * N;
        for (let j = 0; j < N; j++) C[ck + j] += a * B[bi + j];
      }
    }
  },
};
