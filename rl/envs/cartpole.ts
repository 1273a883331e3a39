/**
 * CartPole-v1 (and -v0), a port of Gymnasium 1.x `gymnasium/envs/classic_control/cartpole.py`:
 * the cart-pole of Barto, Sutton & Anderson, "Neuronlike adaptive elements that can solve difficult
 * learning control problems" (IEEE SMC, 1983), with the equations of motion of Florian, "Correct
 * equations for the dynamics of the cart-pole system" (2007) as Gymnasium writes them.
 *
 * State (float64): [x, x_dot, theta, theta_dot]. Observation: the same four values as float32.
 * Reward: +1 on every step, the terminating one included. Gymnasium's `steps_beyond_terminated`
 * branch (reward 0 and a warning when stepping past termination) cannot be reached here: stepping a
 * finished episode is an `EnvError`.
 */

import { box, discrete } from "../core/spaces.ts";
import type { BoxSpace, DiscreteSpace } from "../core/types.ts";
import { ClassicControlEnv, type EnvSpec } from "./env-base.ts";

const GRAVITY = 9.8;
const MASSCART = 1.0;
const MASSPOLE = 0.1;
const TOTAL_MASS = MASSPOLE + MASSCART;
/** Half the pole's length. */
const LENGTH = 0.5;
const POLEMASS_LENGTH = MASSPOLE * LENGTH;
const FORCE_MAG = 10.0;
/** Seconds between state updates. */
const TAU = 0.02;
/** Angle at which to fail the episode: 12 degrees. */
export const THETA_THRESHOLD_RADIANS = (12 * 2 * Math.PI) / 360;
export const X_THRESHOLD = 2.4;

export class CartPoleEnv extends ClassicControlEnv {
  readonly observationSpace: BoxSpace;
  readonly actionSpace: DiscreteSpace = discrete(2);

  constructor(spec: EnvSpec) {
    super(spec, 4);
    // Twice the failure thresholds, so that a failing observation is still within bounds.
    const high = [
      X_THRESHOLD * 2,
      Number.POSITIVE_INFINITY,
      THETA_THRESHOLD_RADIANS * 2,
      Number.POSITIVE_INFINITY,
    ];
    this.observationSpace = box(
      high.map((h) => -h),
      high,
    );
  }

  protected resetState(): void {
    // np_random.uniform(low=-0.05, high=0.05, size=(4,))
    for (let i = 0; i < 4; i++) this.s[i] = this.rng.uniform(-0.05, 0.05);
  }

  protected transition(action: ArrayLike<number>, offset: number): number {
    const s = this.s;
    let x = s[0];
    let xDot = s[1];
    let theta = s[2];
    let thetaDot = s[3];
    const force = action[offset] === 1 ? FORCE_MAG : -FORCE_MAG;
    const costheta = Math.cos(theta);
    const sintheta = Math.sin(theta);

    // Gymnasium's expressions, kept in its evaluation order (left to right) for identical rounding.
    const temp = (force + POLEMASS_LENGTH * (thetaDot * thetaDot) * sintheta) / TOTAL_MASS;
    const thetaacc =
      (GRAVITY * sintheta - costheta * temp) /
      (LENGTH * (4.0 / 3.0 - (MASSPOLE * (costheta * costheta)) / TOTAL_MASS));
    const xacc = temp - (POLEMASS_LENGTH * thetaacc * costheta) / TOTAL_MASS;

    // kinematics_integrator "euler": positions advance with the old velocities.
    x = x + TAU * xDot;
    xDot = xDot + TAU * xacc;
    theta = theta + TAU * thetaDot;
    thetaDot = thetaDot + TAU * thetaacc;
    s[0] = x;
    s[1] = xDot;
    s[2] = theta;
    s[3] = thetaDot;

    this.terminatedFlag =
      x < -X_THRESHOLD ||
      x > X_THRESHOLD ||
      theta < -THETA_THRESHOLD_RADIANS ||
      theta > THETA_THRESHOLD_RADIANS;
    return 1.0;
  }

  protected writeObservation(out: Float32Array, offset: number): void {
    out[offset] = this.s[0];
    out[offset + 1] = this.s[1];
    out[offset + 2] = this.s[2];
    out[offset + 3] = this.s[3];
  }
}
