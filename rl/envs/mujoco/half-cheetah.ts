/**
 * HalfCheetah-v5, after Gymnasium 1.3.0's `gymnasium/envs/mujoco/half_cheetah_v5.py` with its
 * defaults: a planar cheetah (Wawrzyński, 2009) running along x.
 *
 * Observation (17): qpos[1:] (rootz, rooty, six joint angles; x excluded) then qvel (9).
 * Reward: forward_reward_weight (1) · x_velocity − ctrl_cost_weight (0.1) · Σ action², where
 * x_velocity = (x after − x before) / dt and dt = 0.01 s × frame skip 5. Never terminates.
 * Reset: qpos = init_qpos + U(−0.1, 0.1) per coordinate, then qvel = init_qvel + 0.1 · N(0, 1) per
 * coordinate, both drawn from `np_random` in that order.
 */

import type { Info } from "../../core/types.ts";
import type { EnvSpec } from "../env-base.ts";
import type { Kind } from "../numpy-scalars.ts";
import type { Mujoco } from "./engine.ts";
import { HALF_CHEETAH_XML } from "./models/half-cheetah.ts";
import { controlCost, MujocoEnv, type MujocoModelSpec } from "./mujoco-env.ts";

const FORWARD_REWARD_WEIGHT = 1.0;
const CTRL_COST_WEIGHT = 0.1;
const RESET_NOISE_SCALE = 0.1;

export const HALF_CHEETAH_MODEL: MujocoModelSpec = {
  xml: HALF_CHEETAH_XML,
  frameSkip: 5,
  observationDim: 17,
  ctrlRange: Array.from({ length: 6 }, () => [-1, 1] as const),
};

export class HalfCheetahEnv extends MujocoEnv {
  private xBefore = 0;
  private xVelocity = 0;
  private rewardForward = 0;
  private ctrlCost = 0;

  constructor(spec: EnvSpec, mj: Mujoco) {
    super(spec, mj, HALF_CHEETAH_MODEL);
  }

  protected resetModel(): void {
    this.resetUniformNormal(RESET_NOISE_SCALE);
  }

  protected override beforeSimulation(): void {
    this.xBefore = this.s[0];
  }

  protected afterSimulation(action: ArrayLike<number>, offset: number, kind: Kind): number {
    this.xVelocity = (this.s[0] - this.xBefore) / this.dt;
    this.rewardForward = FORWARD_REWARD_WEIGHT * this.xVelocity;
    this.ctrlCost = controlCost(CTRL_COST_WEIGHT, action, offset, this.actionDim, kind);
    return this.rewardForward - this.ctrlCost;
  }

  protected writeObservation(out: Float32Array, offset: number): void {
    const n = this.s.length;
    for (let i = 1; i < n; i++) out[offset + i - 1] = this.s[i];
  }

  protected stepTerms(): Info {
    return {
      x_position: this.s[0],
      x_velocity: this.xVelocity,
      reward_forward: this.rewardForward,
      reward_ctrl: -this.ctrlCost,
    };
  }

  protected override resetTerms(): Info {
    return { x_position: this.s[0] };
  }
}
