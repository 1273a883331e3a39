/**
 * Optimisation on the flat parameter vector θ: global gradient-norm clipping as
 * `torch.nn.utils.clip_grad_norm_` and Adam (Kingma & Ba, ICLR 2015) in `torch.optim.Adam`'s form
 * (bias corrections folded into the step size and the denominator, ε added after the square root).
 */

/**
 * Scales `grads` in place so that their global L2 norm is at most `maxNorm`; returns the norm
 * before clipping. Coefficient maxNorm / (norm + 1e-6), applied only when below 1, as in PyTorch.
 */
export function clipGradNorm(grads: Float32Array, maxNorm: number): number {
  let ss = 0;
  for (let i = 0; i < grads.length; i++) ss += grads[i] * grads[i];
  const norm = Math.sqrt(ss);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) for (let i = 0; i < grads.length; i++) grads[i] *= coef;
  return norm;
}

export interface AdamState {
  step: number;
  m: Float32Array;
  v: Float32Array;
}

export class Adam {
  readonly beta1: number;
  readonly beta2: number;
  eps: number;
  step = 0;
  readonly m: Float32Array;
  readonly v: Float32Array;

  constructor(m: Float32Array, v: Float32Array, eps: number, beta1 = 0.9, beta2 = 0.999) {
    this.m = m;
    this.v = v;
    this.eps = eps;
    this.beta1 = beta1;
    this.beta2 = beta2;
  }

  /** One update of `params` with `grads` at learning rate `lr`. */
  update(params: Float32Array, grads: Float32Array, lr: number): void {
    this.step += 1;
    const { beta1, beta2, eps, m, v } = this;
    const bc1 = 1 - beta1 ** this.step;
    const bc2Sqrt = Math.sqrt(1 - beta2 ** this.step);
    const stepSize = lr / bc1;
    for (let i = 0; i < params.length; i++) {
      const g = grads[i];
      const mi = beta1 * m[i] + (1 - beta1) * g;
      const vi = beta2 * v[i] + (1 - beta2) * g * g;
      m[i] = mi;
      v[i] = vi;
      params[i] -= (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + eps);
    }
  }

  reset(): void {
    this.step = 0;
    this.m.fill(0);
    this.v.fill(0);
  }
}
