/**
 * Humanoid-v5, after Gymnasium 1.3.0's `gymnasium/envs/mujoco/humanoid_v5.py` with its defaults: a
 * 3-D bipedal robot (Tassa, Erez & Todorov, 2012) on a free root joint, rewarded for moving its centre
 * of mass along x (free-walker.ts).
 *
 * Observation (348): qpos[2:] (x and y excluded, 22), qvel (23), then, for every body but the world
 * (13), the com-based inertia cinert (10 each) and velocity cvel (6 each), the actuators' generalized
 * forces qfrc_actuator[6:] (the free joint's 6 excluded, 17), and the external forces cfrc_ext (6 each).
 * Reward terms: x_velocity of the centre of mass (Σ body_mass · xipos / Σ body_mass) ×
 * forward_reward_weight 1.25, healthy_reward 5, ctrl_cost_weight (0.1) · Σ ctrl² (the data's ctrl: the
 * action in float64), contact_cost_weight (5e-7) · Σ cfrc_ext² (every body) clipped to
 * contact_cost_range (−∞, 10); dt = 0.003 s × frame skip 5.
 * Healthy: the torso's height qpos[2] in (1.0, 2.0), strict.
 * Info: also the two fixed tendons' lengths and velocities (tendon_length, tendon_velocity).
 * Reset: qpos = init_qpos + U(−0.01, 0.01), then qvel = init_qvel + U(−0.01, 0.01), per coordinate.
 */

import type { Info } from "../../core/types.ts";
import type { EnvSpec } from "../env-base.ts";
import { F64 } from "../numpy-scalars.ts";
import type { DataViews, Mujoco } from "./engine.ts";
import { FreeWalkerEnv } from "./free-walker.ts";
import { HUMANOID_XML } from "./models/humanoid.ts";
import { controlCost, type MujocoModelSpec } from "./mujoco-env.ts";

const CTRL_COST_WEIGHT = 0.1;
const CONTACT_COST_WEIGHT = 5e-7;
const CONTACT_COST_MAX = 10.0;
const HEALTHY_Z_RANGE = [1.0, 2.0] as const;
const RESET_NOISE_SCALE = 1e-2;
/** The model's sizes: bodies (the world's included), qpos, qvel (the free joint's 6 first). */
const BODIES = 14;
const NQ = 24;
const NV = 23;
const FREE_DOFS = 6;

export const HUMANOID_MODEL: MujocoModelSpec = {
  xml: HUMANOID_XML,
  frameSkip: 5,
  observationDim: NQ - 2 + NV + (BODIES - 1) * (10 + 6) + (NV - FREE_DOFS) + (BODIES - 1) * 6,
  ctrlRange: Array.from({ length: 17 }, () => [-0.4, 0.4] as const),
};

export class HumanoidEnv extends FreeWalkerEnv {
  private readonly bodyMass: Float64Array;
  private readonly totalMass: number;

  constructor(spec: EnvSpec, mj: Mujoco) {
    super(spec, mj, HUMANOID_MODEL, { forwardRewardWeight: 1.25, healthyReward: 5.0 });
    this.bodyMass = this.sim.modelArray("body_mass") as Float64Array;
    this.totalMass = this.bodyMass.reduce((sum, m) => sum + m, 0);
  }

  protected resetModel(): void {
    this.resetUniform(RESET_NOISE_SCALE);
  }

  /**
   * v5's `mass_center`: einsum("b,bj->j", body_mass, xipos) / body_mass.sum(), its (x, y). Summed in
   * body order here; NumPy's einsum and pairwise sum may round the last bit otherwise.
   */
  protected trackedXy(out: Float64Array): void {
    const xipos = this.sim.views.xipos;
    const mass = this.bodyMass;
    let x = 0;
    let y = 0;
    for (let b = 0; b < mass.length; b++) {
      x += mass[b] * xipos[3 * b];
      y += mass[b] * xipos[3 * b + 1];
    }
    out[0] = x / this.totalMass;
    out[1] = y / this.totalMass;
  }

  protected isHealthy(): boolean {
    const z = this.s[2];
    return HEALTHY_Z_RANGE[0] < z && z < HEALTHY_Z_RANGE[1];
  }

  protected controlCostOf(action: ArrayLike<number>, offset: number): number {
    // v5 charges np.square(self.data.ctrl): the action as MuJoCo's float64 ctrl holds it
    return controlCost(CTRL_COST_WEIGHT, action, offset, this.actionDim, F64);
  }

  protected contactCostOf(): number {
    const forces = this.sim.views.cfrcExt;
    const cost = controlCost(CONTACT_COST_WEIGHT, forces, 0, forces.length, F64);
    return Math.min(cost, CONTACT_COST_MAX);
  }

  protected writeObservation(out: Float32Array, offset: number): void {
    const s = this.s;
    const v = this.sim.views;
    let o = offset;
    for (let i = 2; i < s.length; i++) out[o++] = s[i];
    for (let i = 10; i < v.cinert.length; i++) out[o++] = v.cinert[i];
    for (let i = 6; i < v.cvel.length; i++) out[o++] = v.cvel[i];
    for (let i = FREE_DOFS; i < v.qfrcActuator.length; i++) out[o++] = v.qfrcActuator[i];
    for (let i = 6; i < v.cfrcExt.length; i++) out[o++] = v.cfrcExt[i];
  }

  protected override carriedData(): readonly (keyof DataViews)[] {
    return ["xipos", "cinert", "cvel", "qfrcActuator"];
  }

  private tendonTerms(): Info {
    const v = this.sim.views;
    return { tendon_length: Array.from(v.tenLength), tendon_velocity: Array.from(v.tenVelocity) };
  }

  protected override stepTerms(): Info {
    return { ...super.stepTerms(), ...this.tendonTerms() };
  }

  protected override resetTerms(): Info {
    return { ...super.resetTerms(), ...this.tendonTerms() };
  }
}
