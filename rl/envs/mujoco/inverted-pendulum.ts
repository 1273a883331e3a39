/**
 * InvertedPendulum-v5, after Gymnasium 1.3.0's `gymnasium/envs/mujoco/inverted_pendulum_v5.py` with
 * its defaults: MuJoCo's cart-pole (Barto, Sutton & Anderson, 1983), a cart on a rail pushed by a force
 * in [−3, 3] to keep a pole upright.
 *
 * Observation (4): qpos (the cart's position, the pole's angle) then qvel.
 * Reward: 1 per step while the pole's angle stays within ±0.2 rad, else 0 (v5 gives 0 on the step that
 * terminates); terminated when |angle| > 0.2 (or a value is not finite: the base ends those steps).
 * dt = 0.02 s × frame skip 2.
 * Reset: qpos = init_qpos + U(−0.01, 0.01), then qvel = init_qvel + U(−0.01, 0.01), per coordinate.
 */

import type { Info } from "../../core/types.ts";
import type { EnvSpec } from "../env-base.ts";
import type { Mujoco } from "./engine.ts";
import { INVERTED_PENDULUM_XML } from "./models/inverted-pendulum.ts";
import { MujocoEnv, type MujocoModelSpec } from "./mujoco-env.ts";

const RESET_NOISE_SCALE = 0.01;
const MAX_ANGLE = 0.2;

export const INVERTED_PENDULUM_MODEL: MujocoModelSpec = {
  xml: INVERTED_PENDULUM_XML,
  frameSkip: 2,
  observationDim: 4,
  ctrlRange: [[-3, 3]],
};

export class InvertedPendulumEnv extends MujocoEnv {
  private rewardSurvive = 0;

  constructor(spec: EnvSpec, mj: Mujoco) {
    super(spec, mj, INVERTED_PENDULUM_MODEL);
  }

  protected resetModel(): void {
    this.resetUniform(RESET_NOISE_SCALE);
  }

  protected afterSimulation(): number {
    this.terminatedFlag = Math.abs(this.s[1]) > MAX_ANGLE;
    // reward = int(not terminated)
    this.rewardSurvive = this.terminatedFlag ? 0 : 1;
    return this.rewardSurvive;
  }

  protected writeObservation(out: Float32Array, offset: number): void {
    const s = this.s;
    for (let i = 0; i < s.length; i++) out[offset + i] = s[i];
  }

  protected stepTerms(): Info {
    return { reward_survive: this.rewardSurvive };
  }
}
