/**
 * MountainCarContinuous-v0, a port of Gymnasium 1.x
 * `gymnasium/envs/classic_control/continuous_mountain_car.py` (the mountain car of Moore, 1990, with a
 * continuous force; see `mountain-car.ts`).
 *
 * Reward: +100 on reaching the goal, minus 0.1·action² on every step, where the action is the one
 * given, before it is clipped to [-1, 1] for the dynamics (Gymnasium charges the unclipped value, so an
 * out-of-range action is accepted and costs more).
 *
 * Gymnasium stores the state as a float32 array after every step (a float64 one after reset), so its
 * arithmetic mixes np.float32 and Python floats; under NumPy 2 (NEP 50) that rounds intermediate
 * values to float32 and compares against float32-rounded constants (`np.float32(0.45) >= 0.45` is
 * True). `numpy-scalars.ts` reproduces those rules so trajectories match Gymnasium on NumPy 2 bit for
 * bit (test/rl/envs-reference.test.ts checks them against transitions recorded from Gymnasium). Our `state` is a Float64Array holding
 * the float32 values; writing `state` makes it a float64 state again, as assigning
 * `env.unwrapped.state = np.array([p, v])` does in Gymnasium.
 */

import { box } from "../core/spaces.ts";
import type { BoxSpace } from "../core/types.ts";
import { ClassicControlEnv, type EnvSpec } from "./env-base.ts";
import { add, eq, F32, F64, ge, gt, type Kind, kindOf, mul, PY, sub } from "./numpy-scalars.ts";

const MIN_ACTION = -1.0;
const MAX_ACTION = 1.0;
export const MIN_POSITION = -1.2;
export const MAX_POSITION = 0.6;
export const MAX_SPEED = 0.07;
export const GOAL_POSITION = 0.45;
const GOAL_VELOCITY = 0;
const POWER = 0.0015;

export class MountainCarContinuousEnv extends ClassicControlEnv {
  readonly observationSpace: BoxSpace = box([MIN_POSITION, -MAX_SPEED], [MAX_POSITION, MAX_SPEED]);
  readonly actionSpace: BoxSpace = box(MIN_ACTION, MAX_ACTION, [1]);
  /** NumPy dtype of Gymnasium's `self.state`: float64 after reset or a write, float32 after a step. */
  private stateKind: Kind = F64;

  constructor(spec: EnvSpec) {
    super(spec, 2);
  }

  protected resetState(): void {
    this.s[0] = this.rng.uniform(-0.6, -0.4);
    this.s[1] = 0;
    this.stateKind = F64;
  }

  protected override onStateWritten(): void {
    this.stateKind = F64;
  }

  protected override snapshotExtra(): Record<string, unknown> {
    return { stateDtype: this.stateKind === F32 ? "float32" : "float64" };
  }

  protected override restoreExtra(extra: Record<string, unknown>): void {
    this.stateKind = extra.stateDtype === "float32" ? F32 : F64;
  }

  /** The step of continuous_mountain_car.py, each operation with its NumPy result kind. */
  protected transition(action: ArrayLike<number>, offset: number, kind: Kind): number {
    const sk = this.stateKind;
    // Element writes into a float32 array are rounded; mirror that for writes into our live state.
    let position = sk === F32 ? Math.fround(this.s[0]) : this.s[0];
    let velocity = sk === F32 ? Math.fround(this.s[1]) : this.s[1];
    let pk: Kind = sk;
    let vk: Kind = sk;
    const a = kind === F32 ? Math.fround(action[offset]) : action[offset];

    // force = min(max(action[0], self.min_action), self.max_action)
    let force = a;
    let fk: Kind = kind;
    if (gt(MIN_ACTION, PY, force, fk)) {
      force = MIN_ACTION;
      fk = PY;
    }
    if (gt(force, fk, MAX_ACTION, PY)) {
      force = MAX_ACTION;
      fk = PY;
    }

    // velocity += force * self.power - 0.0025 * math.cos(3 * position)
    const push = mul(force, fk, POWER, PY);
    const pushKind = kindOf(fk, PY);
    const slope = 0.0025 * Math.cos(mul(3, PY, position, pk));
    const dv = sub(push, pushKind, slope, PY);
    velocity = add(velocity, vk, dv, pushKind);
    vk = kindOf(vk, pushKind);
    if (gt(velocity, vk, MAX_SPEED, PY)) {
      velocity = MAX_SPEED;
      vk = PY;
    }
    if (gt(-MAX_SPEED, PY, velocity, vk)) {
      velocity = -MAX_SPEED;
      vk = PY;
    }
    position = add(position, pk, velocity, vk);
    pk = kindOf(pk, vk);
    if (gt(position, pk, MAX_POSITION, PY)) {
      position = MAX_POSITION;
      pk = PY;
    }
    if (gt(MIN_POSITION, PY, position, pk)) {
      position = MIN_POSITION;
      pk = PY;
    }
    if (eq(position, pk, MIN_POSITION, PY) && gt(0, PY, velocity, vk)) {
      velocity = 0;
      vk = PY;
    }

    const terminated = ge(position, pk, GOAL_POSITION, PY) && ge(velocity, vk, GOAL_VELOCITY, PY);
    this.terminatedFlag = terminated;
    // reward -= math.pow(action[0], 2) * 0.1, on the unclipped action, in float64.
    const reward = (terminated ? 100.0 : 0) - a * a * 0.1;

    this.s[0] = Math.fround(position);
    this.s[1] = Math.fround(velocity);
    this.stateKind = F32;
    return reward;
  }

  protected writeObservation(out: Float32Array, offset: number): void {
    out[offset] = this.s[0];
    out[offset + 1] = this.s[1];
  }
}
