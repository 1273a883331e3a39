/**
 * Pendulum-v1, a port of Gymnasium 1.x `gymnasium/envs/classic_control/pendulum.py`: the inverted
 * pendulum swing-up (a rigid rod, θ = 0 upright), with Gymnasium's explicit semi-implicit Euler step.
 *
 * State (float64): [θ, θ̇]. Observation: [cos θ, sin θ, θ̇] as float32. Never terminates; truncated at
 * the TimeLimit. Reward: −(angle_normalize(θ)² + 0.1·θ̇² + 0.001·u²) with u clipped to ±2 and θ the
 * angle *before* the step.
 *
 * The torque keeps the NumPy type of the action (np.float32 for a Float32Array, float64 for a
 * number[] list, which `np.clip` turns into a float64 array), and under NumPy 2 `u**2`, `0.001·u²`
 * and `3·u` are then float32 operations; `numpy-scalars.ts` reproduces that.
 */

import { box } from "../core/spaces.ts";
import type { BoxSpace } from "../core/types.ts";
import { ClassicControlEnv, type EnvSpec } from "./env-base.ts";
import { F32, F64, type Kind, mul, PY, pyMod } from "./numpy-scalars.ts";

export const MAX_SPEED = 8;
export const MAX_TORQUE = 2.0;
const DT = 0.05;
const G = 10.0;
const M = 1.0;
const L = 1.0;

export class PendulumEnv extends ClassicControlEnv {
  readonly observationSpace: BoxSpace = box([-1.0, -1.0, -MAX_SPEED], [1.0, 1.0, MAX_SPEED]);
  readonly actionSpace: BoxSpace = box(-MAX_TORQUE, MAX_TORQUE, [1]);

  constructor(spec: EnvSpec) {
    super(spec, 2);
  }

  protected resetState(): void {
    // np_random.uniform(low=[-pi, -1], high=[pi, 1])
    this.s[0] = this.rng.uniform(-Math.PI, Math.PI);
    this.s[1] = this.rng.uniform(-1.0, 1.0);
  }

  protected transition(action: ArrayLike<number>, offset: number, kind: Kind): number {
    const th = this.s[0];
    const thdot = this.s[1];
    const uk: Kind = kind === F32 ? F32 : F64;
    const raw = uk === F32 ? Math.fround(action[offset]) : action[offset];
    // u = np.clip(u, -max_torque, max_torque)[0]; ±2 is exact in float32, so the clip keeps u's type.
    const u = Math.min(Math.max(raw, -MAX_TORQUE), MAX_TORQUE);

    const an = angleNormalize(th);
    const uSquared = mul(u, uk, u, uk);
    const costs = an * an + 0.1 * (thdot * thdot) + mul(0.001, PY, uSquared, uk);

    // θ̇ += (3g/(2l)·sin θ + 3/(m·l²)·u)·dt, clipped to ±max_speed; then θ += θ̇·dt
    let newthdot = thdot + (((3 * G) / (2 * L)) * Math.sin(th) + mul(3.0 / (M * (L * L)), PY, u, uk)) * DT;
    newthdot = Math.min(Math.max(newthdot, -MAX_SPEED), MAX_SPEED);
    const newth = th + newthdot * DT;
    this.s[0] = newth;
    this.s[1] = newthdot;
    return -costs;
  }

  protected writeObservation(out: Float32Array, offset: number): void {
    out[offset] = Math.cos(this.s[0]);
    out[offset + 1] = Math.sin(this.s[0]);
    out[offset + 2] = this.s[1];
  }
}

/**
 * Gymnasium's `angle_normalize(x) = ((x + π) % (2π)) − π`, into [−π, π), with Python's `%` (the
 * result takes the divisor's sign), so that negative angles wrap correctly.
 */
export function angleNormalize(x: number): number {
  return pyMod(x + Math.PI, 2 * Math.PI) - Math.PI;
}
