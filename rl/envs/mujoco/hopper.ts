/**
 * Hopper-v5, after Gymnasium 1.3.0's `gymnasium/envs/mujoco/hopper_v5.py` with its defaults: a
 * one-legged planar hopper (Erez, Tassa & Todorov, 2011). Reward, observation (11) and reset are
 * upright.ts's.
 *
 * Healthy (Gymnasium's `is_healthy`): every value of (qpos, qvel)[2:] in (−100, 100), the torso's
 * height qpos[1] in (0.7, ∞) and its angle qpos[2] in (−0.2, 0.2), all strict.
 */

import type { EnvSpec } from "../env-base.ts";
import type { Mujoco } from "./engine.ts";
import { HOPPER_XML } from "./models/hopper.ts";
import type { MujocoModelSpec } from "./mujoco-env.ts";
import { UprightWalkerEnv } from "./upright.ts";

const HEALTHY_STATE_RANGE = [-100.0, 100.0] as const;
const HEALTHY_Z_RANGE = [0.7, Number.POSITIVE_INFINITY] as const;
const HEALTHY_ANGLE_RANGE = [-0.2, 0.2] as const;

export const HOPPER_MODEL: MujocoModelSpec = {
  xml: HOPPER_XML,
  frameSkip: 4,
  observationDim: 11,
  ctrlRange: Array.from({ length: 3 }, () => [-1, 1] as const),
};

export class HopperEnv extends UprightWalkerEnv {
  constructor(spec: EnvSpec, mj: Mujoco) {
    super(spec, mj, HOPPER_MODEL);
  }

  protected isHealthy(): boolean {
    const s = this.s;
    const [minState, maxState] = HEALTHY_STATE_RANGE;
    for (let i = 2; i < s.length; i++) {
      if (!(minState < s[i] && s[i] < maxState)) return false;
    }
    const z = s[1];
    const angle = s[2];
    return (
      HEALTHY_Z_RANGE[0] < z &&
      z < HEALTHY_Z_RANGE[1] &&
      HEALTHY_ANGLE_RANGE[0] < angle &&
      angle < HEALTHY_ANGLE_RANGE[1]
    );
  }
}
