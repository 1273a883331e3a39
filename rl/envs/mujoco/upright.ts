/**
 * What Hopper-v5 and Walker2d-v5 share (Gymnasium 1.3.0's `hopper_v5.py` and `walker2d_v5.py`, which
 * are the same env but for the body and `is_healthy`): a planar walker rewarded for moving along x
 * while it stays healthy, ending the episode when it is not.
 *
 * Observation: qpos[1:] (x excluded) then qvel clipped to ±10.
 * Reward: (forward_reward_weight (1) · x_velocity + healthy_reward (1 while healthy, else 0))
 *   − ctrl_cost_weight (1e-3) · Σ action², dt = 0.002 s × frame skip 4; terminated when not healthy.
 * Reset: qpos = init_qpos + U(−5e-3, 5e-3), then qvel = init_qvel + U(−5e-3, 5e-3).
 */

import type { Info } from "../../core/types.ts";
import type { EnvSpec } from "../env-base.ts";
import type { Kind } from "../numpy-scalars.ts";
import type { Mujoco } from "./engine.ts";
import { controlCost, MujocoEnv, type MujocoModelSpec } from "./mujoco-env.ts";

const FORWARD_REWARD_WEIGHT = 1.0;
const CTRL_COST_WEIGHT = 1e-3;
const HEALTHY_REWARD = 1.0;
const RESET_NOISE_SCALE = 5e-3;
const VELOCITY_CLIP = 10;

export abstract class UprightWalkerEnv extends MujocoEnv {
  private xBefore = 0;
  private xVelocity = 0;
  private rewardForward = 0;
  private rewardSurvive = 0;
  private ctrlCost = 0;

  protected constructor(spec: EnvSpec, mj: Mujoco, model: MujocoModelSpec) {
    super(spec, mj, model);
  }

  /** Gymnasium's `is_healthy` of the current state. */
  protected abstract isHealthy(): boolean;

  protected resetModel(): void {
    this.resetUniform(RESET_NOISE_SCALE);
  }

  protected override beforeSimulation(): void {
    this.xBefore = this.s[0];
  }

  protected afterSimulation(action: ArrayLike<number>, offset: number, kind: Kind): number {
    const healthy = this.isHealthy();
    this.xVelocity = (this.s[0] - this.xBefore) / this.dt;
    this.rewardForward = FORWARD_REWARD_WEIGHT * this.xVelocity;
    this.rewardSurvive = healthy ? HEALTHY_REWARD : 0;
    this.ctrlCost = controlCost(CTRL_COST_WEIGHT, action, offset, this.actionDim, kind);
    // terminate_when_unhealthy defaults to True
    this.terminatedFlag = !healthy;
    return this.rewardForward + this.rewardSurvive - this.ctrlCost;
  }

  protected writeObservation(out: Float32Array, offset: number): void {
    const s = this.s;
    let o = offset;
    for (let i = 1; i < this.nq; i++) out[o++] = s[i];
    for (let i = this.nq; i < s.length; i++)
      out[o++] = Math.min(Math.max(s[i], -VELOCITY_CLIP), VELOCITY_CLIP);
  }

  private positionTerms(): Info {
    return { x_position: this.s[0], z_distance_from_origin: this.s[1] - this.initQpos[1] };
  }

  protected stepTerms(): Info {
    return {
      ...this.positionTerms(),
      x_velocity: this.xVelocity,
      reward_forward: this.rewardForward,
      reward_ctrl: -this.ctrlCost,
      reward_survive: this.rewardSurvive,
    };
  }

  protected override resetTerms(): Info {
    return this.positionTerms();
  }
}
