/**
 * The PPO loss of one minibatch and its gradient w.r.t. the network outputs (policy logits or
 * Gaussian means, log-std, values), in plain arithmetic so that each term can be checked by hand
 * and fed to the fused kernel's backward pass. Mirrors CleanRL's `ppo.py` / `ppo_continuous_action.py`:
 *
 *   logratio = newlogprob − oldlogprob, ratio = exp(logratio)
 *   pg_loss  = mean(max(−A·ratio, −A·clip(ratio, 1−ε, 1+ε)))             (Schulman et al. 2017, eq. 7)
 *   v_loss   = ½·mean(max((V−R)², (V_old + clip(V−V_old, −ε, ε) − R)²))   (clipped value loss, as in
 *              OpenAI baselines' ppo2 and CleanRL), or ½·mean((V−R)²) unclipped
 *   loss     = pg_loss − ent_coef·mean(entropy) + vf_coef·v_loss
 *   old_approx_kl = mean(−logratio), approx_kl = mean((ratio−1) − logratio)   (Schulman's k3 estimator,
 *              http://joschu.net/blog/kl-approx.html, CleanRL's names)
 */

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);
/** SB3 `StateDependentNoiseDistribution` epsilon (also GSDE_EPSILON in nn/actor-critic.ts). */
const GSDE_EPSILON = 1e-6;

export interface LossCoefficients {
  clipCoef: number;
  clipVloss: boolean;
  entCoef: number;
  vfCoef: number;
}

export interface MinibatchOutputs {
  M: number;
  /** "discrete": `out` holds logits [M, n]; "box": `out` holds means [M, d] and `logstd` [d]. */
  kind: "discrete" | "box";
  outDim: number;
  out: Float32Array;
  logstd: Float32Array | null;
  /**
   * gSDE instead of `logstd`: the per-row variance [M, d] = latent²·exp(logstd)² (see `gsdeVariance`);
   * the Gaussian's std is √(variance + GSDE_EPSILON).
   */
  variance?: Float32Array | null;
  newvalue: Float32Array;
}

export interface MinibatchTargets {
  /** [M] action indices (as floats) for discrete; [M, d] unclipped samples for box. */
  actions: Float32Array;
  logprobs: Float32Array;
  /** Already normalised when norm_adv is on (see `normalizeAdvantages`). */
  advantages: Float32Array;
  returns: Float32Array;
  values: Float32Array;
}

export interface LossStats {
  loss: number;
  pg_loss: number;
  v_loss: number;
  entropy: number;
  old_approx_kl: number;
  approx_kl: number;
  clipfrac: number;
}

export interface LossGradients {
  /** dL/d(out) [M, outDim]. */
  dOut: Float32Array;
  /** dL/d(logstd) [d] (box only, without gSDE). */
  dLogstd: Float32Array | null;
  /** gSDE: dL/d(variance) [M, d]. */
  dVariance?: Float32Array | null;
  /** dL/d(newvalue) [M]. */
  dValue: Float32Array;
}

/** (A − mean(A)) / (std(A) + 1e-8) with the sample std (n−1), as torch's `.std()` in CleanRL. */
export function normalizeAdvantages(src: Float32Array, dst: Float32Array, n: number): void {
  let mean = 0;
  for (let i = 0; i < n; i++) mean += src[i];
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (src[i] - mean) ** 2;
  const std = n > 1 ? Math.sqrt(ss / (n - 1)) : Number.NaN;
  const denom = std + 1e-8;
  for (let i = 0; i < n; i++) dst[i] = (src[i] - mean) / denom;
}

/** Log-probability, entropy and their gradients for one categorical row of logits. */
function categoricalRow(
  logits: Float32Array,
  o: number,
  n: number,
  action: number,
  probs: Float64Array,
): { logprob: number; entropy: number } {
  let max = -Infinity;
  for (let j = 0; j < n; j++) if (logits[o + j] > max) max = logits[o + j];
  let sum = 0;
  for (let j = 0; j < n; j++) {
    const e = Math.exp(logits[o + j] - max);
    probs[j] = e;
    sum += e;
  }
  const logZ = max + Math.log(sum);
  let entropy = 0;
  for (let j = 0; j < n; j++) {
    probs[j] /= sum;
    const logp = logits[o + j] - logZ;
    if (probs[j] > 0) entropy -= probs[j] * logp;
  }
  return { logprob: logits[o + action] - logZ, entropy };
}

/**
 * Loss, statistics and output gradients for one minibatch. Gradients follow the subgradient
 * choices of torch/tfjs: max(a, b) passes the gradient to `a` on ties, clip passes it inside
 * [lo, hi] inclusive.
 */
export function ppoLoss(
  o: MinibatchOutputs,
  t: MinibatchTargets,
  c: LossCoefficients,
  g: LossGradients,
): LossStats {
  const { M, outDim } = o;
  const invM = 1 / M;
  const eps = c.clipCoef;
  let pgSum = 0;
  let vSum = 0;
  let entSum = 0;
  let oldKlSum = 0;
  let klSum = 0;
  let clipped = 0;
  const probs = new Float64Array(o.kind === "discrete" ? outDim : 0);
  const logstd = o.logstd;
  const variance = o.variance ?? null;
  let logstdSum = 0;
  if (variance !== null) {
    if (!g.dVariance) throw new Error("a gSDE policy needs dVariance");
  } else if (o.kind === "box") {
    if (logstd === null || g.dLogstd === null) throw new Error("box policy needs logstd");
    for (let d = 0; d < outDim; d++) logstdSum += logstd[d];
    g.dLogstd.fill(0);
  }
  for (let i = 0; i < M; i++) {
    const row = i * outDim;
    let newlogprob: number;
    let entropy: number;
    if (o.kind === "discrete") {
      const r = categoricalRow(o.out, row, outDim, t.actions[i], probs);
      newlogprob = r.logprob;
      entropy = r.entropy;
    } else if (variance !== null) {
      // gSDE: torch Normal(μ, σ) with σ² = variance + ε per row (SB3 proba_distribution); log_prob
      // and entropy summed over action dims (sum_independent_dims), as for the diagonal Gaussian.
      newlogprob = 0;
      entropy = 0;
      for (let d = 0; d < outDim; d++) {
        const s2 = variance[row + d] + GSDE_EPSILON;
        const diff = t.actions[row + d] - o.out[row + d];
        const halfLogS2 = 0.5 * Math.log(s2);
        newlogprob += (-0.5 * diff * diff) / s2 - halfLogS2 - HALF_LOG_2PI;
        entropy += 0.5 + HALF_LOG_2PI + halfLogS2;
      }
    } else {
      // Diagonal Gaussian: log N(a; μ, σ²) = Σ −(a−μ)²/(2σ²) − log σ − ½ log 2π; H = Σ ½ + ½ log 2π + log σ.
      newlogprob = 0;
      for (let d = 0; d < outDim; d++) {
        const z = (t.actions[row + d] - o.out[row + d]) * Math.exp(-logstd![d]);
        newlogprob += -0.5 * z * z - logstd![d] - HALF_LOG_2PI;
      }
      entropy = outDim * (0.5 + HALF_LOG_2PI) + logstdSum;
    }
    const logratio = newlogprob - t.logprobs[i];
    const ratio = Math.exp(logratio);
    oldKlSum += -logratio;
    klSum += ratio - 1 - logratio;
    if (Math.abs(ratio - 1) > eps) clipped++;

    const adv = t.advantages[i];
    const clippedRatio = Math.min(Math.max(ratio, 1 - eps), 1 + eps);
    const loss1 = -adv * ratio;
    const loss2 = -adv * clippedRatio;
    pgSum += Math.max(loss1, loss2);
    // d pg / d newlogprob = d pg / d ratio · ratio; zero when the clipped branch is taken strictly.
    const dRatio = loss1 >= loss2 ? -adv : ratio >= 1 - eps && ratio <= 1 + eps ? -adv : 0;
    const dLogprob = dRatio * ratio * invM;
    // d(−ent_coef·mean H)/dH_i = −ent_coef/M.
    const dEntropy = -c.entCoef * invM;

    if (o.kind === "discrete") {
      const a = t.actions[i];
      for (let j = 0; j < outDim; j++) {
        const p = probs[j];
        // ∂logπ(a)/∂z_j = 1[j=a] − p_j;  ∂H/∂z_j = −p_j (log p_j + H).
        const dlp = (j === a ? 1 : 0) - p;
        const dH = p > 0 ? -p * (Math.log(p) + entropy) : 0;
        g.dOut[row + j] = dLogprob * dlp + dEntropy * dH;
      }
    } else if (variance !== null) {
      for (let d = 0; d < outDim; d++) {
        const inv = 1 / (variance[row + d] + GSDE_EPSILON);
        const diff = t.actions[row + d] - o.out[row + d];
        // ∂logπ/∂μ = (a−μ)/σ²;  ∂logπ/∂σ² = ½((a−μ)²/σ⁴ − 1/σ²);  ∂H/∂σ² = 1/(2σ²).
        g.dOut[row + d] = dLogprob * diff * inv;
        g.dVariance![row + d] = 0.5 * inv * (dLogprob * (diff * diff * inv - 1) + dEntropy);
      }
    } else {
      for (let d = 0; d < outDim; d++) {
        const inv = Math.exp(-2 * logstd![d]);
        const diff = t.actions[row + d] - o.out[row + d];
        // ∂logπ/∂μ = (a−μ)/σ²;  ∂logπ/∂logσ = (a−μ)²/σ² − 1;  ∂H/∂logσ = 1.
        g.dOut[row + d] = dLogprob * diff * inv;
        g.dLogstd![d] += dLogprob * (diff * diff * inv - 1) + dEntropy;
      }
    }

    entSum += entropy;
    const v = o.newvalue[i];
    const R = t.returns[i];
    let dV: number;
    if (c.clipVloss) {
      const vOld = t.values[i];
      const delta = v - vOld;
      const vClipped = vOld + Math.min(Math.max(delta, -eps), eps);
      const lu = (v - R) ** 2;
      const lc = (vClipped - R) ** 2;
      vSum += Math.max(lu, lc);
      dV = lu >= lc ? v - R : delta >= -eps && delta <= eps ? vClipped - R : 0;
    } else {
      vSum += (v - R) ** 2;
      dV = v - R;
    }
    // d(vf_coef · ½·mean(·))/dV = vf_coef · (V−R)/M on the chosen branch.
    g.dValue[i] = c.vfCoef * dV * invM;
  }
  const pg_loss = pgSum * invM;
  const v_loss = 0.5 * vSum * invM;
  const entropy = entSum * invM;
  return {
    loss: pg_loss - c.entCoef * entropy + c.vfCoef * v_loss,
    pg_loss,
    v_loss,
    entropy,
    old_approx_kl: oldKlSum * invM,
    approx_kl: klSum * invM,
    clipfrac: clipped * invM,
  };
}
