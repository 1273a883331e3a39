/**
 * Walker2d-v5, after Gymnasium 1.3.0's `gymnasium/envs/mujoco/walker2d_v5.py` with its defaults: a
 * two-legged planar walker (Erez, Tassa & Todorov, 2011). Reward, observation (17) and reset are
 * upright.ts's.
 *
 * Healthy (Gymnasium's `is_healthy`): the torso's height qpos[1] in (0.8, 2.0) and its angle qpos[2]
 * in (−1, 1), strict; v5 has no range on the rest of the state.
 */

import type { EnvSpec } from "../env-base.ts";
import type { Mujoco } from "./engine.ts";
import { WALKER2D_XML } from "./models/walker2d.ts";
import type { MujocoModelSpec } from "./mujoco-env.ts";
import { UprightWalkerEnv } from "./upright.ts";

const HEALTHY_Z_RANGE = [0.8, 2.0] as const;
const HEALTHY_ANGLE_RANGE = [-1.0, 1.0] as const;

export const WALKER2D_MODEL: MujocoModelSpec = {
  xml: WALKER2D_XML,
  frameSkip: 4,
  observationDim: 17,
  ctrlRange: Array.from({ length: 6 }, () => [-1, 1] as const),
};

export class Walker2dEnv extends UprightWalkerEnv {
  constructor(spec: EnvSpec, mj: Mujoco) {
    super(spec, mj, WALKER2D_MODEL);
  }

  protected isHealthy(): boolean {
    const z = this.s[1];
    const angle = this.s[2];
    return (
      HEALTHY_Z_RANGE[0] < z &&
      z < HEALTHY_Z_RANGE[1] &&
      HEALTHY_ANGLE_RANGE[0] < angle &&
      angle < HEALTHY_ANGLE_RANGE[1]
    );
  }
}
