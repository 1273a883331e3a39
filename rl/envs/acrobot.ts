/**
 * Acrobot-v1, a port of Gymnasium 1.x `gymnasium/envs/classic_control/acrobot.py`: the two-link
 * underactuated pendulum of Sutton, "Generalization in reinforcement learning: successful examples
 * using sparse coarse coding" (NIPS 1996) and Sutton & Barto, "Reinforcement Learning: An
 * Introduction" (1998, sec. 11.3), with Gymnasium's default "book" dynamics, no torque noise, and one
 * classic fourth-order Runge-Kutta step over [0, dt] (Gymnasium's own `rk4`).
 *
 * State (float64 after a step; float32 values at reset): [theta1, theta2, dtheta1, dtheta2].
 * Observation: [cos theta1, sin theta1, cos theta2, sin theta2, dtheta1, dtheta2] as float32.
 * Reward: -1 per step, 0 on the terminating step.
 */

import { box, discrete } from "../core/spaces.ts";
import type { BoxSpace, DiscreteSpace } from "../core/types.ts";
import { ClassicControlEnv, type EnvSpec } from "./env-base.ts";

const DT = 0.2;
const LINK_LENGTH_1 = 1.0;
const LINK_MASS_1 = 1.0;
const LINK_MASS_2 = 1.0;
/** Position of the centre of mass of link 1. */
const LINK_COM_POS_1 = 0.5;
const LINK_COM_POS_2 = 0.5;
/** Moments of inertia of both links. */
const LINK_MOI = 1.0;
export const MAX_VEL_1 = 4 * Math.PI;
export const MAX_VEL_2 = 9 * Math.PI;
const AVAIL_TORQUE = [-1.0, 0.0, 1];
const G = 9.8;

export class AcrobotEnv extends ClassicControlEnv {
  readonly observationSpace: BoxSpace;
  readonly actionSpace: DiscreteSpace = discrete(3);

  // RK4 work vectors (the four-state part; the torque is constant over the step).
  private readonly y = new Float64Array(4);
  private readonly k1 = new Float64Array(4);
  private readonly k2 = new Float64Array(4);
  private readonly k3 = new Float64Array(4);
  private readonly k4 = new Float64Array(4);
  private readonly tmp = new Float64Array(4);

  constructor(spec: EnvSpec) {
    super(spec, 4);
    const high = [1.0, 1.0, 1.0, 1.0, MAX_VEL_1, MAX_VEL_2];
    this.observationSpace = box(
      high.map((h) => -h),
      high,
    );
  }

  protected resetState(): void {
    // np_random.uniform(low=-0.1, high=0.1, size=(4,)).astype(np.float32)
    for (let i = 0; i < 4; i++) this.s[i] = Math.fround(this.rng.uniform(-0.1, 0.1));
  }

  protected transition(action: ArrayLike<number>, offset: number): number {
    const torque = AVAIL_TORQUE[action[offset]];
    const s = this.s;
    this.rk4(torque);
    const y = this.y;
    s[0] = wrap(y[0], -Math.PI, Math.PI);
    s[1] = wrap(y[1], -Math.PI, Math.PI);
    s[2] = bound(y[2], -MAX_VEL_1, MAX_VEL_1);
    s[3] = bound(y[3], -MAX_VEL_2, MAX_VEL_2);
    const terminated = -Math.cos(s[0]) - Math.cos(s[1] + s[0]) > 1.0;
    this.terminatedFlag = terminated;
    return terminated ? 0.0 : -1.0;
  }

  /**
   * Gymnasium's `rk4(derivs, y0, [0, dt])`: one classic Runge-Kutta step, leaving the result in
   * `this.y`. The torque is the fifth, constant component of Gymnasium's augmented state.
   */
  private rk4(torque: number): void {
    const { y, k1, k2, k3, k4, tmp } = this;
    const y0 = this.s;
    const dt = DT - 0; // t[i + 1] - t[i]
    const dt2 = dt / 2.0;
    this.dsdt(y0, torque, k1);
    for (let i = 0; i < 4; i++) tmp[i] = y0[i] + dt2 * k1[i];
    this.dsdt(tmp, torque, k2);
    for (let i = 0; i < 4; i++) tmp[i] = y0[i] + dt2 * k2[i];
    this.dsdt(tmp, torque, k3);
    for (let i = 0; i < 4; i++) tmp[i] = y0[i] + dt * k3[i];
    this.dsdt(tmp, torque, k4);
    // y0 + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4), in NumPy's evaluation order.
    const h = dt / 6.0;
    for (let i = 0; i < 4; i++) y[i] = y0[i] + h * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
  }

  /**
   * Gymnasium's `_dsdt` with `book_or_nips == "book"`; writes [dθ1, dθ2, ddθ1, ddθ2] into `out`.
   * Python's `x**2` is written `x * x` (the correctly rounded square either way).
   */
  private dsdt(s: Float64Array, a: number, out: Float64Array): void {
    const m1 = LINK_MASS_1;
    const m2 = LINK_MASS_2;
    const l1 = LINK_LENGTH_1;
    const lc1 = LINK_COM_POS_1;
    const lc2 = LINK_COM_POS_2;
    const I1 = LINK_MOI;
    const I2 = LINK_MOI;
    const theta1 = s[0];
    const theta2 = s[1];
    const dtheta1 = s[2];
    const dtheta2 = s[3];
    const d1 = m1 * (lc1 * lc1) + m2 * (l1 * l1 + lc2 * lc2 + 2 * l1 * lc2 * Math.cos(theta2)) + I1 + I2;
    const d2 = m2 * (lc2 * lc2 + l1 * lc2 * Math.cos(theta2)) + I2;
    const phi2 = m2 * lc2 * G * Math.cos(theta1 + theta2 - Math.PI / 2.0);
    const phi1 =
      -m2 * l1 * lc2 * (dtheta2 * dtheta2) * Math.sin(theta2) -
      2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * Math.sin(theta2) +
      (m1 * lc1 + m2 * l1) * G * Math.cos(theta1 - Math.PI / 2) +
      phi2;
    // "book" dynamics: consistent with the Java implementation and Sutton & Barto.
    const ddtheta2 =
      (a + (d2 / d1) * phi1 - m2 * l1 * lc2 * (dtheta1 * dtheta1) * Math.sin(theta2) - phi2) /
      (m2 * (lc2 * lc2) + I2 - (d2 * d2) / d1);
    const ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
    out[0] = dtheta1;
    out[1] = dtheta2;
    out[2] = ddtheta1;
    out[3] = ddtheta2;
  }

  protected writeObservation(out: Float32Array, offset: number): void {
    const s = this.s;
    out[offset] = Math.cos(s[0]);
    out[offset + 1] = Math.sin(s[0]);
    out[offset + 2] = Math.cos(s[1]);
    out[offset + 3] = Math.sin(s[1]);
    out[offset + 4] = s[2];
    out[offset + 5] = s[3];
  }
}

/** Past this magnitude the period-by-period loop below would take too long (or, for ±Infinity, forever). */
const WRAP_LIMIT = 1e8;

/**
 * Gymnasium's `wrap`: shifts x by whole periods (M - m) into [m, M], one period at a time as Gymnasium
 * does (the rounding of repeated subtraction is part of the result). Gymnasium would loop forever on
 * ±Infinity; here a non-finite or absurdly large angle (only reachable by writing `state`) gives NaN,
 * which the step then reports as a NaN observation.
 */
export function wrap(x: number, m: number, M: number): number {
  if (!(Math.abs(x) <= WRAP_LIMIT)) return Number.NaN;
  const diff = M - m;
  while (x > M) x = x - diff;
  while (x < m) x = x + diff;
  return x;
}

/** Gymnasium's `bound`: `min(max(x, m), M)` (NaN stays NaN, as in Python). */
export function bound(x: number, m: number, M: number): number {
  return Math.min(Math.max(x, m), M);
}
