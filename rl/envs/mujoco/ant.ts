/**
 * Ant-v5, after Gymnasium 1.3.0's `gymnasium/envs/mujoco/ant_v5.py` with its defaults: a four-legged
 * ant (Schulman et al., 2016) on a free root joint, rewarded for moving along x (free-walker.ts).
 *
 * Observation (105): qpos[2:] (x and y excluded), qvel, then the contact forces cfrc_ext[1:] (every body
 * but the world, 13 × 6) clipped to contact_force_range (−1, 1).
 * Reward terms: x_velocity of the torso's frame (main_body 1: xpos[1][:2]) × forward_reward_weight 1,
 * healthy_reward 1, ctrl_cost_weight (0.5) · Σ action², contact_cost_weight (5e-4) · Σ clip(cfrc_ext)²
 * (every body, the world's row included); dt = 0.01 s × frame skip 5.
 * Healthy: every value of (qpos, qvel) finite and the torso's height qpos[2] in [0.2, 1.0], inclusive.
 * Reset: qpos = init_qpos + U(−0.1, 0.1) per coordinate, then qvel = init_qvel + 0.1 · N(0, 1).
 */

import type { EnvSpec } from "../env-base.ts";
import { F64, type Kind } from "../numpy-scalars.ts";
import type { DataViews, Mujoco } from "./engine.ts";
import { FreeWalkerEnv } from "./free-walker.ts";
import { ANT_XML } from "./models/ant.ts";
import { controlCost, type MujocoModelSpec } from "./mujoco-env.ts";

const CTRL_COST_WEIGHT = 0.5;
const CONTACT_COST_WEIGHT = 5e-4;
const HEALTHY_Z_RANGE = [0.2, 1.0] as const;
const CONTACT_FORCE_RANGE = [-1.0, 1.0] as const;
const RESET_NOISE_SCALE = 0.1;
/** v5's main_body: the body whose frame's (x, y) gives the velocity (the torso). */
const MAIN_BODY = 1;
/** Bodies of the model, the world's included: cfrc_ext has 14 × 6 values. */
const BODIES = 14;

export const ANT_MODEL: MujocoModelSpec = {
  xml: ANT_XML,
  frameSkip: 5,
  observationDim: 15 - 2 + 14 + (BODIES - 1) * 6,
  ctrlRange: Array.from({ length: 8 }, () => [-1, 1] as const),
};

export class AntEnv extends FreeWalkerEnv {
  /** The contact forces clipped to contact_force_range, as the last step left them. */
  private readonly contactForces = new Float64Array(BODIES * 6);

  constructor(spec: EnvSpec, mj: Mujoco) {
    super(spec, mj, ANT_MODEL, { forwardRewardWeight: 1, healthyReward: 1.0 });
  }

  protected resetModel(): void {
    this.resetUniformNormal(RESET_NOISE_SCALE);
  }

  protected trackedXy(out: Float64Array): void {
    const xpos = this.sim.views.xpos;
    out[0] = xpos[3 * MAIN_BODY];
    out[1] = xpos[3 * MAIN_BODY + 1];
  }

  protected isHealthy(): boolean {
    // Non-finite states never get here: the base ends those steps as unstable.
    const z = this.s[2];
    return HEALTHY_Z_RANGE[0] <= z && z <= HEALTHY_Z_RANGE[1];
  }

  protected controlCostOf(action: ArrayLike<number>, offset: number, kind: Kind): number {
    return controlCost(CTRL_COST_WEIGHT, action, offset, this.actionDim, kind);
  }

  protected contactCostOf(): number {
    // contact_cost_weight * np.sum(np.square(contact_forces)): NumPy's same float64 reduction
    const forces = this.clippedContactForces();
    return controlCost(CONTACT_COST_WEIGHT, forces, 0, forces.length, F64);
  }

  private clippedContactForces(): Float64Array {
    const raw = this.sim.views.cfrcExt;
    const [low, high] = CONTACT_FORCE_RANGE;
    const out = this.contactForces;
    for (let i = 0; i < out.length; i++) out[i] = Math.min(Math.max(raw[i], low), high);
    return out;
  }

  protected writeObservation(out: Float32Array, offset: number): void {
    const s = this.s;
    let o = offset;
    for (let i = 2; i < s.length; i++) out[o++] = s[i];
    const forces = this.clippedContactForces();
    for (let i = 6; i < forces.length; i++) out[o++] = forces[i];
  }

  protected override carriedData(): readonly (keyof DataViews)[] {
    return ["xpos"];
  }
}
