/**
 * Reacher-v5, after Gymnasium 1.3.0's `gymnasium/envs/mujoco/reacher_v5.py` with its defaults: a
 * two-joint arm in the plane whose fingertip is to reach a target placed at random.
 *
 * Observation (10): cos and sin of the two arm angles qpos[:2], the target's position qpos[2:], the
 * arm's angular velocities qvel[:2], and the fingertip's position minus the target's (x, y), from the
 * bodies' frames (xpos, as `get_body_com` reads them).
 * Reward: −reward_dist_weight (1) · ‖fingertip − target‖ (3-D) − reward_control_weight (1) · Σ action²;
 * dt = 0.01 s × frame skip 2. Never terminates (TimeLimit: 50 steps).
 * Reset: qpos = U(−0.1, 0.1) + init_qpos (nq draws); then the goal, U(−0.2, 0.2)² drawn again until its
 * norm is below 0.2, replaces qpos[2:]; then qvel = init_qvel + U(−0.005, 0.005) (nv draws), with the
 * target's velocity qvel[2:] set to 0.
 */

import type { Info } from "../../core/types.ts";
import type { EnvSpec } from "../env-base.ts";
import type { Kind } from "../numpy-scalars.ts";
import type { DataViews, Mujoco } from "./engine.ts";
import { REACHER_XML } from "./models/reacher.ts";
import { controlCost, MujocoEnv, type MujocoModelSpec } from "./mujoco-env.ts";

const REWARD_DIST_WEIGHT = 1;
const REWARD_CONTROL_WEIGHT = 1;
const QPOS_NOISE = 0.1;
const GOAL_RANGE = 0.2;
const QVEL_NOISE = 0.005;

export const REACHER_MODEL: MujocoModelSpec = {
  xml: REACHER_XML,
  frameSkip: 2,
  observationDim: 10,
  ctrlRange: [
    [-1, 1],
    [-1, 1],
  ],
};

export class ReacherEnv extends MujocoEnv {
  /** Offsets of the fingertip's and the target's frames in xpos. */
  private readonly fingertip: number;
  private readonly target: number;
  private rewardDist = 0;
  private rewardCtrl = 0;

  constructor(spec: EnvSpec, mj: Mujoco) {
    super(spec, mj, REACHER_MODEL);
    this.fingertip = 3 * this.sim.id("body", "fingertip");
    this.target = 3 * this.sim.id("body", "target");
  }

  protected resetModel(): void {
    const qpos = new Float64Array(this.nq);
    const qvel = new Float64Array(this.nv);
    for (let i = 0; i < this.nq; i++) qpos[i] = this.rng.uniform(-QPOS_NOISE, QPOS_NOISE) + this.initQpos[i];
    let gx: number;
    let gy: number;
    do {
      gx = this.rng.uniform(-GOAL_RANGE, GOAL_RANGE);
      gy = this.rng.uniform(-GOAL_RANGE, GOAL_RANGE);
      // np.linalg.norm(goal) < 0.2: sqrt(goal · goal)
    } while (!(Math.sqrt(gx * gx + gy * gy) < GOAL_RANGE));
    qpos[this.nq - 2] = gx;
    qpos[this.nq - 1] = gy;
    for (let i = 0; i < this.nv; i++) qvel[i] = this.initQvel[i] + this.rng.uniform(-QVEL_NOISE, QVEL_NOISE);
    qvel[this.nv - 2] = 0;
    qvel[this.nv - 1] = 0;
    this.setState(qpos, qvel);
  }

  protected afterSimulation(action: ArrayLike<number>, offset: number, kind: Kind): number {
    const xpos = this.sim.views.xpos;
    const dx = xpos[this.fingertip] - xpos[this.target];
    const dy = xpos[this.fingertip + 1] - xpos[this.target + 1];
    const dz = xpos[this.fingertip + 2] - xpos[this.target + 2];
    this.rewardDist = -Math.sqrt(dx * dx + dy * dy + dz * dz) * REWARD_DIST_WEIGHT;
    // -np.square(action).sum() * weight: in the action's precision, like a control cost
    this.rewardCtrl = -controlCost(REWARD_CONTROL_WEIGHT, action, offset, this.actionDim, kind);
    return this.rewardDist + this.rewardCtrl;
  }

  protected writeObservation(out: Float32Array, offset: number): void {
    const s = this.s;
    const xpos = this.sim.views.xpos;
    let o = offset;
    out[o++] = Math.cos(s[0]);
    out[o++] = Math.cos(s[1]);
    out[o++] = Math.sin(s[0]);
    out[o++] = Math.sin(s[1]);
    for (let i = 2; i < this.nq; i++) out[o++] = s[i];
    out[o++] = s[this.nq];
    out[o++] = s[this.nq + 1];
    out[o++] = xpos[this.fingertip] - xpos[this.target];
    out[o] = xpos[this.fingertip + 1] - xpos[this.target + 1];
  }

  protected override carriedData(): readonly (keyof DataViews)[] {
    return ["xpos"];
  }

  protected stepTerms(): Info {
    return { reward_dist: this.rewardDist, reward_ctrl: this.rewardCtrl };
  }
}
