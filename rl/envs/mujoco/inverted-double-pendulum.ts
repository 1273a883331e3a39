/**
 * InvertedDoublePendulum-v5, after Gymnasium 1.3.0's
 * `gymnasium/envs/mujoco/inverted_double_pendulum_v5.py` with its defaults: a cart on a rail carrying
 * two poles in a chain, to be kept upright by a force on the cart.
 *
 * Observation (9): the cart's position qpos[0], sin and cos of the two hinge angles qpos[1:], qvel
 * clipped to ±10, and the cart's constraint force qfrc_constraint[0] clipped to ±10.
 * Reward: healthy_reward (10 while not terminated, else 0) − (0.01·x² + (y − 2)²) − (1e-3·ω₁² +
 * 5e-3·ω₂²), where (x, y) are the x and z of the `tip` site (site_xpos[0]) and ω₁, ω₂ = qvel[1:3];
 * terminated when y ≤ 1. dt = 0.01 s × frame skip 5.
 * Reset: qpos = init_qpos + U(−0.1, 0.1) per coordinate, then qvel = init_qvel + 0.1 · N(0, 1).
 */

import type { Info } from "../../core/types.ts";
import type { EnvSpec } from "../env-base.ts";
import type { DataViews, Mujoco } from "./engine.ts";
import { INVERTED_DOUBLE_PENDULUM_XML } from "./models/inverted-double-pendulum.ts";
import { MujocoEnv, type MujocoModelSpec } from "./mujoco-env.ts";

const HEALTHY_REWARD = 10.0;
const RESET_NOISE_SCALE = 0.1;
const MIN_TIP_HEIGHT = 1;
const CLIP = 10;

export const INVERTED_DOUBLE_PENDULUM_MODEL: MujocoModelSpec = {
  xml: INVERTED_DOUBLE_PENDULUM_XML,
  frameSkip: 5,
  observationDim: 9,
  ctrlRange: [[-1, 1]],
};

const clip = (x: number) => Math.min(Math.max(x, -CLIP), CLIP);

export class InvertedDoublePendulumEnv extends MujocoEnv {
  /** Offset of the `tip` site in site_xpos. */
  private readonly tip: number;
  private rewardSurvive = 0;
  private distancePenalty = 0;
  private velocityPenalty = 0;

  constructor(spec: EnvSpec, mj: Mujoco) {
    super(spec, mj, INVERTED_DOUBLE_PENDULUM_MODEL);
    this.tip = 3 * this.sim.id("site", "tip");
  }

  protected resetModel(): void {
    this.resetUniformNormal(RESET_NOISE_SCALE);
  }

  protected afterSimulation(): number {
    const sites = this.sim.views.siteXpos;
    const x = sites[this.tip];
    const y = sites[this.tip + 2];
    this.terminatedFlag = y <= MIN_TIP_HEIGHT;
    const v1 = this.s[this.nq + 1];
    const v2 = this.s[this.nq + 2];
    // v5's _get_rew, in its order of operations
    this.distancePenalty = 0.01 * (x * x) + (y - 2) * (y - 2);
    this.velocityPenalty = 1e-3 * (v1 * v1) + 5e-3 * (v2 * v2);
    this.rewardSurvive = this.terminatedFlag ? 0 : HEALTHY_REWARD;
    return this.rewardSurvive - this.distancePenalty - this.velocityPenalty;
  }

  protected writeObservation(out: Float32Array, offset: number): void {
    const s = this.s;
    const nq = this.nq;
    let o = offset;
    out[o++] = s[0];
    for (let i = 1; i < nq; i++) out[o++] = Math.sin(s[i]);
    for (let i = 1; i < nq; i++) out[o++] = Math.cos(s[i]);
    for (let i = nq; i < s.length; i++) out[o++] = clip(s[i]);
    out[o] = clip(this.sim.views.qfrcConstraint[0]);
  }

  protected override carriedData(): readonly (keyof DataViews)[] {
    return ["qfrcConstraint"];
  }

  protected stepTerms(): Info {
    return {
      reward_survive: this.rewardSurvive,
      distance_penalty: -this.distancePenalty,
      velocity_penalty: -this.velocityPenalty,
    };
  }
}
