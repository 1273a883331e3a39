/**
 * The base of the MuJoCo envs, after Gymnasium 1.3.0's `gymnasium/envs/mujoco/mujoco_env.py`
 * (`MujocoEnv`), on env-base.ts's life cycle (TimeLimit, phases, seeded `np_random`, snapshots).
 *
 * - `state` is (qpos, qvel), like `set_state(qpos, qvel)`: writing it writes both and runs
 *   `mj_forward`; element writes take effect on the next step. It is read back after every step.
 * - A step is v5's `do_simulation`: `ctrl = action`, `mj_step` × frame skip, then
 *   `mj_rnePostConstraint` (so that `cfrc_ext` is valid, as v5 needs for contact forces).
 * - A reset is `mj_resetData`, then the subclass's `resetModel` (Gymnasium's `reset_model`: noise from
 *   `np_random` in Gymnasium's order, then `setState`).
 * - Actions: a NaN or infinite value is an `EnvError` INVALID_ACTION (env-base.ts). A value outside
 *   the actuator's `ctrlrange` is accepted, as in Gymnasium: MuJoCo clamps `ctrl` to `ctrlrange` for
 *   actuators with `ctrllimited` (all of Gymnasium's), while the control cost is charged on the action
 *   as given, unclamped — Gymnasium's `control_cost(action)`.
 * - Instability: when MuJoCo finds NaN, Inf or huge values (|x| > 1e10) in qpos, qvel or qacc
 *   (mjWARN_BADQPOS/BADQVEL/BADQACC), it resets the data to the model's initial state and goes on
 *   stepping (`mj_checkPos`/`mj_checkVel`/`mj_checkAcc`). Gymnasium then carries on as if nothing
 *   happened; here the step ends the episode instead: `terminated`, reward 0, and
 *   `info.simulationUnstable` says what MuJoCo said. The observation is that of the data MuJoCo
 *   reset, finite: a learner never sees a NaN observation.
 * - Snapshots hold (qpos, qvel) and, to resume bit for bit, the time, the solver's warm start, the
 *   actuators' activations, the contact forces of the last step and the data fields an env names in
 *   `carriedData`.
 */

import { box } from "../../core/spaces.ts";
import type { BoxSpace, EnvSpaces, Info } from "../../core/types.ts";
import { ClassicControlEnv, type EnvSpec } from "../env-base.ts";
import { EnvError } from "../errors.ts";
import { F32, type Kind } from "../numpy-scalars.ts";
import {
  type DataViews,
  dropWarningLog,
  type GeomInfo,
  type GeomPoses,
  type Mujoco,
  MujocoSim,
  unstableSince,
  unstableWarnings,
} from "./engine.ts";

/** What registers a MuJoCo env: its model and the facts known before the engine is loaded. */
export interface MujocoModelSpec {
  /** The MJCF (rl/envs/mujoco/models/). */
  xml: string;
  /** MuJoCo steps per env step (Gymnasium's `frame_skip`). */
  frameSkip: number;
  observationDim: number;
  /**
   * Each actuator's `ctrlrange` (the action space is Box(low, high) of them in float32, Gymnasium's
   * `_set_action_space`). Declared so that listing envs does not load the engine; every env checks it
   * against its compiled model.
   */
  ctrlRange: readonly (readonly [number, number])[];
}

/** The spaces of a MuJoCo env from its declared facts (no engine needed). */
export function mujocoSpaces(spec: MujocoModelSpec): EnvSpaces {
  return {
    observationSpace: box(-Infinity, Infinity, [spec.observationDim]),
    actionSpace: box(
      spec.ctrlRange.map(([low]) => low),
      spec.ctrlRange.map(([, high]) => high),
    ),
  };
}

export abstract class MujocoEnv extends ClassicControlEnv {
  readonly observationSpace: BoxSpace;
  readonly actionSpace: BoxSpace;
  readonly frameSkip: number;
  /** Seconds per env step: `timestep × frame_skip` (Gymnasium's `dt`). */
  readonly dt: number;
  protected readonly sim: MujocoSim;
  readonly nq: number;
  readonly nv: number;
  /** The state after `MjData` was made: `qpos0` and zeros (Gymnasium's `init_qpos`, `init_qvel`). */
  protected readonly initQpos: Float64Array;
  protected readonly initQvel: Float64Array;
  /** MuJoCo's warning when the last step ended the episode for instability, else null. */
  protected unstable: string | null = null;

  protected constructor(spec: EnvSpec, mj: Mujoco, model: MujocoModelSpec) {
    const sim = new MujocoSim(mj, model.xml, spec.id);
    super(spec, sim.nq + sim.nv);
    try {
      this.sim = sim;
      this.nq = sim.nq;
      this.nv = sim.nv;
      this.frameSkip = model.frameSkip;
      this.dt = sim.timestep * model.frameSkip;
      const spaces = mujocoSpaces(model);
      this.observationSpace = spaces.observationSpace;
      this.actionSpace = spaces.actionSpace as BoxSpace;
      checkCtrlRange(sim, model, spec.id);
      const v = sim.views;
      this.initQpos = v.qpos.slice();
      this.initQvel = v.qvel.slice();
      this.pullState();
    } catch (err) {
      sim.close();
      throw err;
    }
  }

  /** Gymnasium's `reset_model`: draws the noise from `this.rng` in Gymnasium's order, then `setState`. */
  protected abstract resetModel(): void;

  /** Runs before the simulation of a step: keep what the reward needs from the state before it. */
  protected beforeSimulation(): void {}

  /**
   * Runs after the simulation of a step (not after an unstable one): returns the reward, sets
   * `terminatedFlag`, and keeps the reward terms for `stepTerms`. The action is as given.
   */
  protected abstract afterSimulation(action: ArrayLike<number>, offset: number, kind: Kind): number;

  /** The `info` of the last step, with Gymnasium's keys (reward terms, positions, velocities). */
  protected abstract stepTerms(): Info;

  /** Gymnasium's `_get_reset_info`. */
  protected resetTerms(): Info {
    return {};
  }

  /**
   * The data fields (besides qpos, qvel and `cfrc_ext`) that the env reads between steps: in its
   * observation, or as the position before its next step. `mj_step` leaves them as its last stage
   * computed them (before the final integration; RK4's last intermediate stage), which `mj_forward`
   * at a restore would not reproduce for the final (qpos, qvel), so snapshots carry them.
   */
  protected carriedData(): readonly (keyof DataViews)[] {
    return [];
  }

  /**
   * The reset of most v5 envs: qpos = init_qpos + U(−scale, scale) (nq draws of
   * `np_random.uniform`), then qvel = init_qvel + U(−scale, scale) (nv draws), then `set_state`.
   */
  protected resetUniform(scale: number): void {
    const qpos = new Float64Array(this.nq);
    const qvel = new Float64Array(this.nv);
    for (let i = 0; i < this.nq; i++) qpos[i] = this.initQpos[i] + this.rng.uniform(-scale, scale);
    for (let i = 0; i < this.nv; i++) qvel[i] = this.initQvel[i] + this.rng.uniform(-scale, scale);
    this.setState(qpos, qvel);
  }

  /**
   * The reset of HalfCheetah-, InvertedDoublePendulum- and Ant-v5: qpos = init_qpos + U(−scale, scale)
   * (nq draws of `np_random.uniform`), then qvel = init_qvel + scale · N(0, 1) (nv draws of
   * `np_random.standard_normal`), then `set_state`.
   */
  protected resetUniformNormal(scale: number): void {
    const qpos = new Float64Array(this.nq);
    const qvel = new Float64Array(this.nv);
    for (let i = 0; i < this.nq; i++) qpos[i] = this.initQpos[i] + this.rng.uniform(-scale, scale);
    for (let i = 0; i < this.nv; i++) qvel[i] = this.initQvel[i] + scale * this.rng.standardNormal();
    this.setState(qpos, qvel);
  }

  /** Gymnasium's `set_state(qpos, qvel)`; `state` follows. */
  protected setState(qpos: ArrayLike<number>, qvel: ArrayLike<number>): void {
    this.sim.setState(qpos, qvel);
    this.pullState();
  }

  protected resetState(): void {
    this.unstable = null;
    this.sim.resetData();
    this.resetModel();
    this.pullState();
  }

  protected transition(action: ArrayLike<number>, offset: number, kind: Kind): number {
    this.unstable = null;
    this.pushState();
    this.beforeSimulation();
    const warnings = unstableWarnings();
    this.doSimulation(action, offset);
    const warning = unstableSince(warnings) ?? this.nonFiniteState();
    if (warning !== null) {
      this.endUnstable(warning);
      return 0;
    }
    this.pullState();
    return this.afterSimulation(action, offset, kind);
  }

  /** v5's `do_simulation`: ctrl = action, `mj_step` × frame skip, then `mj_rnePostConstraint`. */
  private doSimulation(action: ArrayLike<number>, offset: number): void {
    const ctrl = this.sim.views.ctrl;
    for (let i = 0; i < ctrl.length; i++) ctrl[i] = action[offset + i];
    this.sim.step(this.frameSkip);
    this.sim.rnePostConstraint();
  }

  /** MuJoCo resets the data itself for what it detects; this catches what it would not (a state written without a reset). */
  private nonFiniteState(): string | null {
    const v = this.sim.views;
    for (const [name, values] of [
      ["qpos", v.qpos],
      ["qvel", v.qvel],
    ] as const) {
      for (let i = 0; i < values.length; i++) {
        if (!Number.isFinite(values[i])) return `${values[i]} in ${name.toUpperCase()} at DOF ${i}`;
      }
    }
    return null;
  }

  private endUnstable(warning: string): void {
    dropWarningLog(this.sim.mj);
    // MuJoCo has already reset its data for a detected instability; this covers the rest, so the
    // observation below is finite either way.
    if (this.nonFiniteState() !== null) {
      this.sim.resetData();
      this.sim.forward();
    }
    this.pullState();
    this.unstable = `${warning} (MuJoCo reset its data; the episode ends here)`;
    this.terminatedFlag = true;
  }

  protected override stepInfo(): Info {
    return this.unstable === null ? this.stepTerms() : { simulationUnstable: this.unstable };
  }

  protected override resetInfo(): Info {
    return this.resetTerms();
  }

  /** (qpos, qvel) of the simulation → `s`. */
  private pullState(): void {
    const v = this.sim.views;
    this.s.set(v.qpos, 0);
    this.s.set(v.qvel, this.nq);
  }

  /** `s` → (qpos, qvel): element writes to `state` take effect on the next step. */
  private pushState(): void {
    const v = this.sim.views;
    v.qpos.set(this.s.subarray(0, this.nq));
    v.qvel.set(this.s.subarray(this.nq));
  }

  protected override onStateWritten(): void {
    this.sim.setState(this.s.subarray(0, this.nq), this.s.subarray(this.nq));
  }

  protected override snapshotExtra(): Record<string, unknown> {
    const v = this.sim.views;
    return {
      time: this.sim.time,
      qaccWarmstart: Array.from(v.qaccWarmstart),
      act: Array.from(v.act),
      cfrcExt: Array.from(v.cfrcExt),
      ...this.carriedSnapshot(v),
    };
  }

  private carriedSnapshot(v: DataViews): { data?: Record<string, number[]> } {
    const fields = this.carriedData();
    if (fields.length === 0) return {};
    return { data: Object.fromEntries(fields.map((field) => [field, Array.from(v[field])])) };
  }

  /**
   * `s` has been restored: the data is reset (clearing MuJoCo's warning counters too), given the
   * state, recomputed by `mj_forward`, and then given what `mj_forward` does not recompute.
   */
  protected override restoreExtra(extra: Record<string, unknown>): void {
    const v0 = this.sim.views;
    const warm = numbers(extra.qaccWarmstart, v0.qaccWarmstart.length, "qaccWarmstart", this.id);
    const act = numbers(extra.act, v0.act.length, "act", this.id);
    const cfrcExt = numbers(extra.cfrcExt, v0.cfrcExt.length, "cfrcExt", this.id);
    const carried = this.carriedData().map(
      (field) => [field, numbers(carriedField(extra.data, field), v0[field].length, field, this.id)] as const,
    );
    const time = extra.time;
    if (time !== undefined && typeof time !== "number") {
      throw new EnvError("INVALID_STATE", "snapshot time must be a number", this.id);
    }
    this.unstable = null;
    this.sim.resetData();
    const v = this.sim.views;
    v.qpos.set(this.s.subarray(0, this.nq));
    v.qvel.set(this.s.subarray(this.nq));
    if (act) v.act.set(act);
    this.sim.forward();
    if (warm) v.qaccWarmstart.set(warm);
    if (cfrcExt) v.cfrcExt.set(cfrcExt);
    for (const [field, values] of carried) if (values) v[field].set(values);
    if (time !== undefined) this.sim.time = time;
  }

  /** The model's geoms (shapes, sizes, bodies), for drawing the env (the order of `geomPoses`). */
  geoms(): GeomInfo[] {
    return this.sim.geoms();
  }

  /** Every geom's world pose in the current state, copied; the simulation is not disturbed (engine.ts). */
  geomPoses(): GeomPoses {
    return this.sim.geomPoses();
  }

  /** Frees the model's data in the WebAssembly heap; the env cannot be used afterwards. */
  override close(): void {
    this.sim.close();
  }
}

function numbers(value: unknown, length: number, name: string, envId: string): number[] | null {
  if (value === undefined) return null;
  if (!Array.isArray(value) || value.length !== length || value.some((x) => typeof x !== "number")) {
    throw new EnvError("INVALID_STATE", `snapshot ${name} needs ${length} numbers`, envId);
  }
  return value as number[];
}

function carriedField(data: unknown, field: string): unknown {
  return typeof data === "object" && data !== null ? (data as Record<string, unknown>)[field] : undefined;
}

function checkCtrlRange(sim: MujocoSim, spec: MujocoModelSpec, envId: string): void {
  const range = sim.modelArray("actuator_ctrlrange");
  const declared = spec.ctrlRange.flat();
  const same = sim.nu === spec.ctrlRange.length && declared.every((x, i) => x === range[i]);
  if (!same) {
    throw new EnvError(
      "INVALID_OPTION",
      `the declared ctrlRange [${declared.join(", ")}] is not the model's [${Array.from(range).join(", ")}]`,
      envId,
    );
  }
}

/**
 * Gymnasium's `ctrl_cost_weight * np.sum(np.square(action))` under NumPy 2, bit for bit: a float32
 * action (a Float32Array: np.float32 elements) is squared and summed in float32, and the Python
 * float weight then multiplies as a float32 (NEP 50); a list or float64 action stays in float64.
 * The sum is NumPy's pairwise summation (`pairwise_sum` in numpy/_core/src/umath/loops_utils.h.src)
 * added to the reduction's initial 0.
 */
export function controlCost(
  weight: number,
  action: ArrayLike<number>,
  offset: number,
  n: number,
  kind: Kind,
): number {
  const round = kind === F32 ? Math.fround : keep;
  if (squares.length < n) squares = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const a = round(action[offset + i]);
    squares[i] = round(a * a);
  }
  const sum = round(0 + pairwiseSum(squares, 0, n, round));
  return round(round(weight) * sum);
}

const keep = (x: number) => x;
/** Scratch for `controlCost`'s squares (the step path allocates nothing). */
let squares = new Float64Array(32);

/** NumPy's `pairwise_sum`: blocks of 8 accumulators below 128 elements, halves above (PW_BLOCKSIZE). */
function pairwiseSum(a: Float64Array, start: number, n: number, round: (x: number) => number): number {
  if (n < 8) {
    let res = -0;
    for (let i = 0; i < n; i++) res = round(res + a[start + i]);
    return res;
  }
  if (n <= 128) {
    const r = a.slice(start, start + 8);
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (let j = 0; j < 8; j++) r[j] = round(r[j] + a[start + i + j]);
    }
    let res = round(
      round(round(r[0] + r[1]) + round(r[2] + r[3])) + round(round(r[4] + r[5]) + round(r[6] + r[7])),
    );
    for (; i < n; i++) res = round(res + a[start + i]);
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return round(pairwiseSum(a, start, n2, round) + pairwiseSum(a, start + n2, n - n2, round));
}
