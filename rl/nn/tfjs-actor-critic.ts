/**
 * The same agent and PPO loss written with TensorFlow.js ops and autograd: the engine for the
 * `tensorflow` and `webgpu` backends, and the independent reference the fused kernel is tested
 * against. Its variables hold the same bytes as the flat θ (W row-major [in, out], then b), so the
 * two engines are interchangeable mid-run.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { LossCoefficients, LossStats } from "../ppo/loss.ts";
import {
  type ActorCriticEngine,
  GSDE_EPSILON,
  type Minibatch,
  type NetworkSpec,
  type ParameterLayout,
  parameterLayout,
} from "./actor-critic.ts";
import type { MlpLayout } from "./mlp.ts";

interface VarSlice {
  variable: tf.Variable;
  offset: number;
  size: number;
}

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

export class TfjsActorCritic implements ActorCriticEngine {
  readonly name = "tfjs";
  private readonly spec: NetworkSpec;
  private readonly layout: ParameterLayout;
  private readonly slices: VarSlice[] = [];
  private readonly actorVars: { w: tf.Variable; b: tf.Variable }[];
  private readonly criticVars: { w: tf.Variable; b: tf.Variable }[];
  private readonly logstd: tf.Variable | null;
  /** The θ last uploaded, compared by content so callers need not track versions. */
  private uploaded: Float32Array | null = null;

  constructor(spec: NetworkSpec) {
    this.spec = spec;
    this.layout = parameterLayout(spec);
    this.actorVars = this.makeVars(this.layout.actor, 0, "actor");
    this.criticVars = this.makeVars(this.layout.critic, this.layout.criticOffset, "critic");
    this.logstd = null;
    if (spec.action.kind === "box") {
      // [1, d] for the diagonal Gaussian; gSDE's matrix [latentDim, d].
      const shape = this.layout.sde ? this.layout.logstdShape : [1, this.layout.outDim];
      const size = shape[0]! * shape[1]!;
      this.logstd = tf.variable(tf.zeros(shape), true, `logstd_${Math.random()}`);
      this.slices.push({ variable: this.logstd, offset: this.layout.logstd, size });
    }
  }

  private makeVars(layout: MlpLayout, base: number, prefix: string): { w: tf.Variable; b: tf.Variable }[] {
    return layout.layers.map((layer, l) => {
      const unique = `${prefix}_${l}_${Math.random()}`;
      const w = tf.variable(tf.zeros([layer.inDim, layer.outDim]), true, `${unique}_w`);
      const b = tf.variable(tf.zeros([layer.outDim]), true, `${unique}_b`);
      this.slices.push({ variable: w, offset: base + layer.w, size: layer.inDim * layer.outDim });
      this.slices.push({ variable: b, offset: base + layer.b, size: layer.outDim });
      return { w, b };
    });
  }

  /** Copies θ into the variables when it changed since the last upload. */
  private sync(params: Float32Array): void {
    if (this.uploaded && equalArrays(this.uploaded, params)) return;
    for (const s of this.slices) {
      tf.tidy(() =>
        s.variable.assign(tf.tensor(params.slice(s.offset, s.offset + s.size), s.variable.shape)),
      );
    }
    this.uploaded = params.slice();
  }

  private mlp(vars: { w: tf.Variable; b: tf.Variable }[], x: tf.Tensor2D): tf.Tensor2D {
    return this.mlpWithLatent(vars, x).out;
  }

  /** The MLP's output and its last hidden features (gSDE's latent). */
  private mlpWithLatent(
    vars: { w: tf.Variable; b: tf.Variable }[],
    x: tf.Tensor2D,
  ): { out: tf.Tensor2D; latent: tf.Tensor2D } {
    let h = x;
    let latent = x;
    vars.forEach(({ w, b }, l) => {
      const z = tf.add(tf.matMul(h, w), b) as tf.Tensor2D;
      if (l === vars.length - 1) latent = h;
      h = l === vars.length - 1 ? z : this.spec.activation === "tanh" ? tf.tanh(z) : tf.relu(z);
    });
    return { out: h, latent };
  }

  policyOut(params: Float32Array, obs: Float32Array, M: number): Float32Array {
    this.sync(params);
    return tf.tidy(() => {
      const x = tf.tensor2d(obs.subarray(0, M * this.spec.obsDim), [M, this.spec.obsDim]);
      return this.mlp(this.actorVars, x).dataSync() as Float32Array;
    });
  }

  values(params: Float32Array, obs: Float32Array, M: number, out: Float32Array): void {
    this.sync(params);
    const v = tf.tidy(() => {
      const x = tf.tensor2d(obs.subarray(0, M * this.spec.obsDim), [M, this.spec.obsDim]);
      return this.mlp(this.criticVars, x).dataSync();
    });
    out.set(v.subarray(0, M));
  }

  /** CleanRL's minibatch loss in tfjs ops; gradients by tf.variableGrads. */
  lossAndGrad(params: Float32Array, grads: Float32Array, mb: Minibatch, c: LossCoefficients): LossStats {
    this.sync(params);
    const { M } = mb;
    const outDim = this.layout.outDim;
    const stats: Record<string, tf.Tensor> = {};
    const result = tf.tidy(() => {
      const x = tf.tensor2d(mb.obs.subarray(0, M * this.spec.obsDim), [M, this.spec.obsDim]);
      const oldLogprob = tf.tensor1d(mb.logprobs.subarray(0, M));
      const adv = tf.tensor1d(mb.advantages.subarray(0, M));
      const returns = tf.tensor1d(mb.returns.subarray(0, M));
      const oldValues = tf.tensor1d(mb.values.subarray(0, M));
      // gSDE's latent, detached (SB3 learn_features=False): computed outside the gradient tape, so
      // the variance passes no gradient into the actor's features. tfjs has no stop_gradient op.
      const latentSq = this.layout.sde ? tf.square(this.mlpWithLatent(this.actorVars, x).latent) : null;
      const lossFn = (): tf.Scalar => {
        const out = this.mlp(this.actorVars, x);
        let newlogprob: tf.Tensor1D;
        let entropy: tf.Tensor1D;
        if (this.spec.action.kind === "discrete") {
          const logp = tf.logSoftmax(out);
          const onehot = tf.oneHot(tf.tensor1d(Array.from(mb.actions.subarray(0, M)), "int32"), outDim);
          newlogprob = tf.sum(tf.mul(logp, onehot), 1);
          entropy = tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), 1));
        } else if (this.layout.sde) {
          // SB3 StateDependentNoiseDistribution.proba_distribution: variance = latent.detach()² ·
          // exp(log_std)², Normal(mean, √(variance + ε)); log_prob and entropy summed over dims.
          const a = tf.tensor2d(mb.actions.subarray(0, M * outDim), [M, outDim]);
          const variance = tf.matMul(latentSq!, tf.exp(tf.mul(2, this.logstd!)));
          const logStd = tf.mul(0.5, tf.log(tf.add(variance, GSDE_EPSILON)));
          const z = tf.div(tf.sub(a, out), tf.exp(logStd));
          newlogprob = tf.sum(tf.sub(tf.sub(tf.mul(-0.5, tf.square(z)), logStd), HALF_LOG_2PI), 1);
          entropy = tf.sum(tf.add(logStd, 0.5 + HALF_LOG_2PI), 1);
        } else {
          const a = tf.tensor2d(mb.actions.subarray(0, M * outDim), [M, outDim]);
          const logstd = this.logstd!;
          const z = tf.div(tf.sub(a, out), tf.exp(logstd));
          newlogprob = tf.sum(tf.sub(tf.sub(tf.mul(-0.5, tf.square(z)), logstd), HALF_LOG_2PI), 1);
          entropy = tf.sum(tf.add(tf.mul(tf.onesLike(out), logstd), 0.5 + HALF_LOG_2PI), 1);
        }
        const logratio = tf.sub(newlogprob, oldLogprob);
        const ratio = tf.exp(logratio);
        const pg1 = tf.neg(tf.mul(adv, ratio));
        const pg2 = tf.neg(tf.mul(adv, tf.clipByValue(ratio, 1 - c.clipCoef, 1 + c.clipCoef)));
        const pg_loss = tf.mean(tf.maximum(pg1, pg2));
        const newvalue = tf.reshape(this.mlp(this.criticVars, x), [M]);
        let v_loss: tf.Scalar;
        if (c.clipVloss) {
          const unclipped = tf.square(tf.sub(newvalue, returns));
          const vClipped = tf.add(
            oldValues,
            tf.clipByValue(tf.sub(newvalue, oldValues), -c.clipCoef, c.clipCoef),
          );
          const clipped = tf.square(tf.sub(vClipped, returns));
          v_loss = tf.mul(0.5, tf.mean(tf.maximum(unclipped, clipped)));
        } else {
          v_loss = tf.mul(0.5, tf.mean(tf.square(tf.sub(newvalue, returns))));
        }
        const entropy_loss = tf.mean(entropy);
        stats.pg_loss = tf.keep(pg_loss);
        stats.v_loss = tf.keep(v_loss);
        stats.entropy = tf.keep(entropy_loss);
        stats.old_approx_kl = tf.keep(tf.mean(tf.neg(logratio)));
        stats.approx_kl = tf.keep(tf.mean(tf.sub(tf.sub(ratio, 1), logratio)));
        stats.clipfrac = tf.keep(
          tf.mean(tf.cast(tf.greater(tf.abs(tf.sub(ratio, 1)), c.clipCoef), "float32")),
        );
        return tf.add(
          tf.sub(pg_loss, tf.mul(c.entCoef, entropy_loss)),
          tf.mul(c.vfCoef, v_loss),
        ) as tf.Scalar;
      };
      const { value, grads: g } = tf.variableGrads(
        lossFn,
        this.slices.map((s) => s.variable),
      );
      for (const s of this.slices) grads.set(g[s.variable.name].dataSync() as Float32Array, s.offset);
      return value.dataSync()[0];
    });
    const read = (k: string): number => {
      const v = stats[k].dataSync()[0];
      stats[k].dispose();
      return v;
    };
    return {
      loss: result,
      pg_loss: read("pg_loss"),
      v_loss: read("v_loss"),
      entropy: read("entropy"),
      old_approx_kl: read("old_approx_kl"),
      approx_kl: read("approx_kl"),
      clipfrac: read("clipfrac"),
    };
  }

  dispose(): void {
    for (const s of this.slices) s.variable.dispose();
  }
}

function equalArrays(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
