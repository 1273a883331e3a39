/**
 * A multilayer perceptron as a parameter layout over one flat Float32Array, and a fused
 * forward/backward kernel on it. Layer l holds W_l (row-major [in, out], the tfjs dense-kernel
 * layout) followed by b_l, so the same bytes load into tfjs variables (`tfjs-model.ts`) unchanged.
 */
import type { Rng } from "../core/rng.ts";
import type { Activation } from "../ppo/hyperparameters.ts";
import type { Allocator } from "./arena.ts";
import type { Gemm } from "./gemm.ts";
import { orthogonalInit } from "./init.ts";

export interface LayerSlice {
  inDim: number;
  outDim: number;
  /** Offset of W (inDim·outDim floats), relative to the network's first parameter. */
  w: number;
  /** Offset of b (outDim floats). */
  b: number;
}

export interface MlpLayout {
  sizes: readonly number[];
  layers: LayerSlice[];
  /** Number of parameters. */
  size: number;
}

export function mlpLayout(sizes: readonly number[]): MlpLayout {
  const layers: LayerSlice[] = [];
  let offset = 0;
  for (let l = 0; l + 1 < sizes.length; l++) {
    const inDim = sizes[l];
    const outDim = sizes[l + 1];
    layers.push({ inDim, outDim, w: offset, b: offset + inDim * outDim });
    offset += inDim * outDim + outDim;
  }
  return { sizes, layers, size: offset };
}

/**
 * CleanRL's `layer_init`: orthogonal weights with gain √2 on hidden layers and `headGain` on the
 * output layer (0.01 for the policy head, 1 for the value head), zero biases.
 */
export function initMlp(layout: MlpLayout, params: Float32Array, rng: Rng, headGain: number): void {
  const last = layout.layers.length - 1;
  layout.layers.forEach((layer, l) => {
    const gain = l === last ? headGain : Math.SQRT2;
    orthogonalInit(
      rng,
      layer.inDim,
      layer.outDim,
      gain,
      params.subarray(layer.w, layer.w + layer.inDim * layer.outDim),
    );
    params.fill(0, layer.b, layer.b + layer.outDim);
  });
}

/**
 * PyTorch's default `nn.Linear.reset_parameters` (SB3 with `ortho_init=False`): kaiming_uniform_
 * with a = √5 on the weight, i.e. U(−1/√fan_in, 1/√fan_in), and the bias U(−1/√fan_in, 1/√fan_in).
 * Drawn as torch does, the (out, in) weight row-major then the bias, and stored as [in, out].
 */
export function initMlpTorchDefault(layout: MlpLayout, params: Float32Array, rng: Rng): void {
  for (const layer of layout.layers) {
    const bound = 1 / Math.sqrt(layer.inDim);
    for (let r = 0; r < layer.outDim; r++)
      for (let c = 0; c < layer.inDim; c++)
        params[layer.w + c * layer.outDim + r] = rng.uniformRange(-bound, bound);
    for (let j = 0; j < layer.outDim; j++) params[layer.b + j] = rng.uniformRange(-bound, bound);
  }
}

/**
 * Forward and backward of one MLP (hidden activation `activation`, linear output) on batches of up
 * to `maxBatch` rows. Activations of the last forward are kept for the backward pass.
 */
export class MlpKernel {
  readonly layout: MlpLayout;
  readonly maxBatch: number;
  private readonly activation: Activation;
  private readonly gemm: Gemm;
  /** acts[l]: output of layer l (after the activation for hidden layers), [maxBatch, sizes[l+1]]. */
  private readonly acts: Float32Array[];
  /** Gradient w.r.t. a layer's output, ping-ponged between two buffers of the widest layer. */
  private readonly delta: [Float32Array, Float32Array];
  /** Wᵀ of the layer being back-propagated through, so that dy·Wᵀ is a plain `nn` product. */
  private readonly wT: Float32Array;
  /** The last forward's input, copied in so that every GEMM operand lives in the allocator's memory. */
  private readonly input: Float32Array;
  private batch = -1;

  constructor(layout: MlpLayout, activation: Activation, maxBatch: number, alloc: Allocator, gemm: Gemm) {
    this.layout = layout;
    this.activation = activation;
    this.maxBatch = maxBatch;
    this.gemm = gemm;
    this.input = alloc.alloc(maxBatch * layout.sizes[0]);
    this.acts = layout.layers.map((layer) => alloc.alloc(maxBatch * layer.outDim));
    const widest = Math.max(...layout.sizes.slice(1));
    this.delta = [alloc.alloc(maxBatch * widest), alloc.alloc(maxBatch * widest)];
    this.wT = alloc.alloc(Math.max(...layout.layers.map((l) => l.inDim * l.outDim)));
  }

  /** Output [M, out] of the network for input x [M, in]; a view valid until the next forward. */
  forward(params: Float32Array, x: Float32Array, M: number): Float32Array {
    if (M > this.maxBatch) throw new RangeError(`batch ${M} exceeds the kernel's ${this.maxBatch}`);
    this.input.set(x.subarray(0, M * this.layout.sizes[0]));
    this.batch = M;
    const layers = this.layout.layers;
    const last = layers.length - 1;
    let h = this.input;
    for (let l = 0; l <= last; l++) {
      const { inDim, outDim, w, b } = layers[l];
      const W = params.subarray(w, w + inDim * outDim);
      this.gemm.dense(
        h,
        W,
        params.subarray(b, b + outDim),
        this.acts[l],
        M,
        inDim,
        outDim,
        l === last ? "linear" : this.activation,
      );
      h = this.acts[l];
    }
    return this.acts[last].subarray(0, M * layers[last].outDim);
  }

  /** The last forward's last hidden features [M, sizes[L−1]] (gSDE's latent); a view valid until the next forward. */
  hidden(): Float32Array {
    const layers = this.layout.layers;
    if (this.batch < 0) throw new Error("MlpKernel.hidden before forward");
    if (layers.length < 2) throw new Error("the network has no hidden layer");
    return this.acts[layers.length - 2]!.subarray(0, this.batch * layers[layers.length - 2]!.outDim);
  }

  /**
   * Gradients of the loss w.r.t. the parameters, given dL/d(output) [M, out] of the last forward.
   * Overwrites `grads` (the same layout as `params`).
   */
  backward(params: Float32Array, grads: Float32Array, dOut: Float32Array): void {
    const x = this.input;
    if (this.batch < 0) throw new Error("MlpKernel.backward before forward");
    const M = this.batch;
    let dy = dOut;
    for (let l = this.layout.layers.length - 1; l >= 0; l--) {
      const { inDim, outDim, w, b } = this.layout.layers[l];
      const below = l === 0 ? x : this.acts[l - 1];
      // Weight and bias gradients of y = h·W + b: dW = hᵀ·dy, db = Σ_rows dy.
      this.gemm.tn(below, dy, grads.subarray(w, w + inDim * outDim), M, inDim, outDim);
      const db = grads.subarray(b, b + outDim);
      db.fill(0);
      for (let i = 0; i < M; i++) {
        const r = i * outDim;
        for (let j = 0; j < outDim; j++) db[j] += dy[r + j];
      }
      if (l === 0) break;
      // dL/dz below = (dy·Wᵀ) ⊙ act'(h), with Wᵀ materialised so the product is a plain row-major one.
      const wT = this.wT;
      for (let r = 0; r < inDim; r++)
        for (let c = 0; c < outDim; c++) wT[c * inDim + r] = params[w + r * outDim + c];
      const dh = this.delta[l & 1];
      this.gemm.nnGrad(dy, wT, below, dh, M, outDim, inDim, this.activation);
      dy = dh;
    }
  }
}
