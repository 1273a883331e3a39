/**
 * What Ant-v5 and Humanoid-v5 share (Gymnasium 1.3.0's `ant_v5.py` and `humanoid_v5.py`): a body on a
 * free root joint (qpos[0:3] its position, qpos[3:7] its orientation quaternion) rewarded for moving
 * along x while it stays healthy, charged for its controls and contact forces, the episode ending
 * when it is not healthy (terminate_when_unhealthy defaults to True in both).
 *
 * Step: (x, y) before and after the simulation (what each env tracks: Ant its torso's frame, Humanoid
 * its centre of mass), velocity = (after − before) / dt, then
 *   reward = (forward_reward + healthy_reward) − (ctrl_cost + contact_cost),
 * forward_reward = forward_reward_weight · x_velocity and healthy_reward = is_healthy · healthy_reward,
 * in v5's order of operations.
 * Info: x_position, y_position, distance_from_origin (qpos[0:2] and its norm), the velocities and the
 * reward terms with v5's keys; at reset the positions.
 */

import type { Info } from "../../core/types.ts";
import type { EnvSpec } from "../env-base.ts";
import type { Kind } from "../numpy-scalars.ts";
import type { Mujoco } from "./engine.ts";
import { MujocoEnv, type MujocoModelSpec } from "./mujoco-env.ts";

export interface FreeWalkerWeights {
  forwardRewardWeight: number;
  healthyReward: number;
}

export abstract class FreeWalkerEnv extends MujocoEnv {
  private readonly weights: FreeWalkerWeights;
  /** (x, y) as `trackedXy` wrote it before the simulation, then after it. */
  private readonly xyBefore = new Float64Array(2);
  private readonly xyAfter = new Float64Array(2);
  private xVelocity = 0;
  private yVelocity = 0;
  private rewardForward = 0;
  private rewardSurvive = 0;
  private ctrlCost = 0;
  private contactCost = 0;

  protected constructor(spec: EnvSpec, mj: Mujoco, model: MujocoModelSpec, weights: FreeWalkerWeights) {
    super(spec, mj, model);
    this.weights = weights;
  }

  /** Writes the (x, y) whose change is the velocity (as the data holds it now) into `out`. */
  protected abstract trackedXy(out: Float64Array): void;

  /** Gymnasium's `is_healthy` of the current state. */
  protected abstract isHealthy(): boolean;

  /** Gymnasium's `control_cost(action)`. */
  protected abstract controlCostOf(action: ArrayLike<number>, offset: number, kind: Kind): number;

  /** Gymnasium's `contact_cost` of the current data. */
  protected abstract contactCostOf(): number;

  protected override beforeSimulation(): void {
    this.trackedXy(this.xyBefore);
  }

  protected afterSimulation(action: ArrayLike<number>, offset: number, kind: Kind): number {
    this.trackedXy(this.xyAfter);
    this.xVelocity = (this.xyAfter[0] - this.xyBefore[0]) / this.dt;
    this.yVelocity = (this.xyAfter[1] - this.xyBefore[1]) / this.dt;
    const healthy = this.isHealthy();
    this.rewardForward = this.weights.forwardRewardWeight * this.xVelocity;
    this.rewardSurvive = healthy ? this.weights.healthyReward : 0;
    this.ctrlCost = this.controlCostOf(action, offset, kind);
    this.contactCost = this.contactCostOf();
    this.terminatedFlag = !healthy;
    return this.rewardForward + this.rewardSurvive - (this.ctrlCost + this.contactCost);
  }

  protected positionTerms(): Info {
    const [x, y] = this.s;
    // np.linalg.norm(qpos[0:2], ord=2) of a vector: sqrt(x·x)
    return { x_position: x, y_position: y, distance_from_origin: Math.sqrt(x * x + y * y) };
  }

  protected stepTerms(): Info {
    return {
      ...this.positionTerms(),
      x_velocity: this.xVelocity,
      y_velocity: this.yVelocity,
      reward_forward: this.rewardForward,
      reward_ctrl: -this.ctrlCost,
      reward_contact: -this.contactCost,
      reward_survive: this.rewardSurvive,
    };
  }

  protected override resetTerms(): Info {
    return this.positionTerms();
  }
}
