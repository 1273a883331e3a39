/**
 * Swimmer-v5, after Gymnasium 1.3.0's `gymnasium/envs/mujoco/swimmer_v5.py` with its defaults: a
 * three-link swimmer (Coulom, 2002) in a viscous fluid, rewarded for moving along x.
 *
 * Observation (8): qpos[2:] (the heading and two joint angles; x and y excluded) then qvel (5).
 * Reward: forward_reward_weight (1) · x_velocity − ctrl_cost_weight (1e-4) · Σ action², with
 * dt = 0.01 s × frame skip 4. Never terminates.
 * Reset: qpos = init_qpos + U(−0.1, 0.1), then qvel = init_qvel + U(−0.1, 0.1), per coordinate.
 */

import type { Info } from "../../core/types.ts";
import type { EnvSpec } from "../env-base.ts";
import type { Kind } from "../numpy-scalars.ts";
import type { Mujoco } from "./engine.ts";
import { SWIMMER_XML } from "./models/swimmer.ts";
import { controlCost, MujocoEnv, type MujocoModelSpec } from "./mujoco-env.ts";

const FORWARD_REWARD_WEIGHT = 1.0;
const CTRL_COST_WEIGHT = 1e-4;
const RESET_NOISE_SCALE = 0.1;

export const SWIMMER_MODEL: MujocoModelSpec = {
  xml: SWIMMER_XML,
  frameSkip: 4,
  observationDim: 8,
  ctrlRange: [
    [-1, 1],
    [-1, 1],
  ],
};

export class SwimmerEnv extends MujocoEnv {
  private xBefore = 0;
  private yBefore = 0;
  private xVelocity = 0;
  private yVelocity = 0;
  private rewardForward = 0;
  private ctrlCost = 0;

  constructor(spec: EnvSpec, mj: Mujoco) {
    super(spec, mj, SWIMMER_MODEL);
  }

  protected resetModel(): void {
    this.resetUniform(RESET_NOISE_SCALE);
  }

  protected override beforeSimulation(): void {
    this.xBefore = this.s[0];
    this.yBefore = this.s[1];
  }

  protected afterSimulation(action: ArrayLike<number>, offset: number, kind: Kind): number {
    this.xVelocity = (this.s[0] - this.xBefore) / this.dt;
    this.yVelocity = (this.s[1] - this.yBefore) / this.dt;
    this.rewardForward = FORWARD_REWARD_WEIGHT * this.xVelocity;
    this.ctrlCost = controlCost(CTRL_COST_WEIGHT, action, offset, this.actionDim, kind);
    return this.rewardForward - this.ctrlCost;
  }

  protected writeObservation(out: Float32Array, offset: number): void {
    const n = this.s.length;
    for (let i = 2; i < n; i++) out[offset + i - 2] = this.s[i];
  }

  private positionTerms(): Info {
    const [x, y] = this.s;
    // np.linalg.norm(xy, ord=2) of a vector: sqrt(x·x)
    return { x_position: x, y_position: y, distance_from_origin: Math.sqrt(x * x + y * y) };
  }

  protected stepTerms(): Info {
    return {
      ...this.positionTerms(),
      x_velocity: this.xVelocity,
      y_velocity: this.yVelocity,
      reward_forward: this.rewardForward,
      reward_ctrl: -this.ctrlCost,
    };
  }

  protected override resetTerms(): Info {
    return this.positionTerms();
  }
}
