/**
 * MountainCar-v0, a port of Gymnasium 1.x `gymnasium/envs/classic_control/mountain_car.py`: the
 * under-powered car of Moore, "Efficient memory-based learning for robot control" (PhD thesis,
 * University of Cambridge, 1990), as Sutton & Barto (2018, example 10.1) pose it.
 *
 * State (float64): [position, velocity]. Observation: the same as float32. Reward: -1 per step.
 * Actions: 0 accelerate left, 1 do nothing, 2 accelerate right.
 */

import { box, discrete } from "../core/spaces.ts";
import type { BoxSpace, DiscreteSpace } from "../core/types.ts";
import { ClassicControlEnv, type EnvSpec } from "./env-base.ts";

export const MIN_POSITION = -1.2;
export const MAX_POSITION = 0.6;
export const MAX_SPEED = 0.07;
export const GOAL_POSITION = 0.5;
const GOAL_VELOCITY = 0;
const FORCE = 0.001;
const GRAVITY = 0.0025;

export class MountainCarEnv extends ClassicControlEnv {
  readonly observationSpace: BoxSpace = box([MIN_POSITION, -MAX_SPEED], [MAX_POSITION, MAX_SPEED]);
  readonly actionSpace: DiscreteSpace = discrete(3);

  constructor(spec: EnvSpec) {
    super(spec, 2);
  }

  protected resetState(): void {
    // np.array([np_random.uniform(low=-0.6, high=-0.4), 0])
    this.s[0] = this.rng.uniform(-0.6, -0.4);
    this.s[1] = 0;
  }

  protected transition(action: ArrayLike<number>, offset: number): number {
    let position = this.s[0];
    let velocity = this.s[1];
    // `velocity += a + b` adds the sum: v + (a + b), not (v + a) + b.
    velocity += (action[offset] - 1) * FORCE + Math.cos(3 * position) * -GRAVITY;
    velocity = clip(velocity, -MAX_SPEED, MAX_SPEED);
    position += velocity;
    position = clip(position, MIN_POSITION, MAX_POSITION);
    // The left wall is inelastic: the car stops there.
    if (position === MIN_POSITION && velocity < 0) velocity = 0;
    this.terminatedFlag = position >= GOAL_POSITION && velocity >= GOAL_VELOCITY;
    this.s[0] = position;
    this.s[1] = velocity;
    return -1.0;
  }

  protected writeObservation(out: Float32Array, offset: number): void {
    out[offset] = this.s[0];
    out[offset + 1] = this.s[1];
  }
}

/** `np.clip(x, lo, hi)` = minimum(maximum(x, lo), hi), NaN-propagating like NumPy. */
function clip(x: number, lo: number, hi: number): number {
  return Math.min(Math.max(x, lo), hi);
}
