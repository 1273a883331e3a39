/**
 * The MuJoCo physics engine: Google DeepMind's official WebAssembly build (`mujoco-js`, MuJoCo
 * 3.3.8), one instance per process, loaded on first need: a process that never makes a MuJoCo env
 * never pays its load (a few tenths of a second) nor its memory.
 *
 * Loading is asynchronous (WebAssembly compiles asynchronously); everything after it is synchronous.
 * `loadMujoco()` starts it (rl/envs/registry.ts's `prepareEnv` calls it for MuJoCo ids), and
 * `requireMujoco(id)` hands the loaded engine to an env's constructor or says to await `prepareEnv`.
 *
 * A model and its data live in the WebAssembly heap, not in JavaScript's: `MujocoSim.close()` frees
 * them (a FinalizationRegistry frees what a forgotten close leaves, whenever the GC collects the sim).
 * Typed-array views onto the heap (`MujocoSim.views`) are made once and re-derived when the heap has
 * grown: growing a WebAssembly memory detaches every ArrayBuffer that viewed it.
 */

import { readFile } from "node:fs/promises";
import * as nodeModule from "node:module";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { compileFunction } from "node:vm";
import type { MainModule, MjData, MjModel } from "mujoco-js";
import { EnvError } from "../errors.ts";

export type Mujoco = MainModule;
type MujocoFactory = (moduleArg?: unknown) => Promise<Mujoco>;

let instance: Mujoco | null = null;
let loading: Promise<Mujoco> | null = null;
let loadMillis: number | null = null;

/**
 * MuJoCo reports through `printf`: model errors (`loadFromXML` then returns null) and warnings such
 * as "Nan, Inf or huge value in QACC at DOF 0. The simulation is unstable." (`mj_warning`, printed
 * the first time each kind occurs after `mj_resetData`). They are kept here rather than printed, so
 * that a worker's logs or `proxima ... --json` output stay clean, and read by whoever made the call.
 */
let messages: string[] = [];
/** Bumped by every "The simulation is unstable" warning: an env compares it across its step. */
let unstableCount = 0;
let lastUnstable = "";
const MAX_MESSAGES = 64;

function onMessage(text: string): void {
  if (text === "") return;
  if (messages.length >= MAX_MESSAGES) messages.shift();
  messages.push(text);
  if (text.includes("The simulation is unstable")) {
    unstableCount++;
    lastUnstable = text.replace(/^WARNING:\s*/, "");
  }
}

/** Loads the engine once per process; later calls return the same instance. */
export function loadMujoco(): Promise<Mujoco> {
  if (instance) return Promise.resolve(instance);
  loading ??= instantiate().then(
    (mj) => {
      instance = mj;
      return mj;
    },
    (err: unknown) => {
      loading = null;
      throw err;
    },
  );
  return loading;
}

async function instantiate(): Promise<Mujoco> {
  const started = performance.now();
  const factory = await moduleFactory();
  const mj = await factory({ print: onMessage, printErr: onMessage });
  loadMillis = performance.now() - started;
  return mj;
}

/**
 * The module's factory. mujoco-js is one 11 MB ES module: ~0.3 MB of Emscripten glue and the
 * WebAssembly binary inlined as a base64 string. Imported plainly it costs, under tsx's loader
 * (`npm start`, the CLI, the tests), ~1.5 s and ~100 MB more, because tsx rewrites its one dynamic
 * `import('module')` and builds a source map over the whole file; and even under Node alone V8 parses
 * the 11 MB. So the binary is cut out and decoded by Buffer, and the glue is compiled as a function
 * with that import, `import.meta.url` and the binary passed in: the same code, a fraction of the
 * load. Should a later build not have the expected shape, the plain import is used.
 */
async function moduleFactory(): Promise<MujocoFactory> {
  const path = createRequire(import.meta.url).resolve("mujoco-js");
  const source = await readFile(path, "utf8");
  const nodeImport = "await import('module')";
  const binaryStart = "return base64Decode('";
  const tail = "export default loadMujoco;";
  const from = source.indexOf(binaryStart);
  const to = source.indexOf("')", from + binaryStart.length);
  const end = source.lastIndexOf(tail);
  const glue = from < 0 || to < 0 ? "" : source.slice(0, from) + source.slice(to + 2, end);
  const shapeKnown =
    from >= 0 &&
    source.indexOf(binaryStart, from + 1) < 0 &&
    end > to &&
    source.slice(end + tail.length).trim() === "" &&
    glue.split(nodeImport).length === 2 &&
    !/\bimport\s*\(/.test(glue.replace(nodeImport, ""));
  if (!shapeKnown) {
    const mod = (await import("mujoco-js")) as { default: MujocoFactory };
    return mod.default;
  }
  const wasm = Buffer.from(source.slice(from + binaryStart.length, to), "base64");
  const body =
    `"use strict";${source.slice(0, from)}return __wasmBinary${source.slice(to + 2, end)}return loadMujoco;`
      .replace(nodeImport, "__nodeModule")
      .replaceAll("import.meta.url", "__moduleUrl");
  const make = compileFunction(body, ["__nodeModule", "__moduleUrl", "__wasmBinary"], { filename: path });
  return make(nodeModule, pathToFileURL(path).href, wasm) as MujocoFactory;
}

/** The engine when it has been loaded, else null (never starts a load). */
export function loadedMujoco(): Mujoco | null {
  return instance;
}

/** How long the load took in this process (ms), or null before it has finished. */
export function mujocoLoadMillis(): number | null {
  return loadMillis;
}

/** The loaded engine, for an env's constructor; a typed error saying what to do when it is not loaded. */
export function requireMujoco(envId: string): Mujoco {
  if (instance) return instance;
  throw new EnvError(
    "ENGINE_NOT_LOADED",
    "the MuJoCo engine is not loaded in this process yet: `await prepareEnv(id)` (rl/envs/registry.ts) before makeEnv/makeVectorEnv",
    envId,
  );
}

/** Mirrors MuJoCo's count of instability warnings; `unstableSince(n)` is the warning when it moved. */
export function unstableWarnings(): number {
  return unstableCount;
}

export function unstableSince(count: number): string | null {
  return unstableCount === count ? null : lastUnstable;
}

/** Takes (and clears) the messages MuJoCo printed since the last call. */
export function takeMessages(): string[] {
  const out = messages;
  messages = [];
  return out;
}

/** MuJoCo appends each warning to MUJOCO_LOG.TXT in the module's in-memory file system; drop it. */
export function dropWarningLog(mj: Mujoco): void {
  try {
    mj.FS.unlink("/MUJOCO_LOG.TXT");
  } catch {
    // no warning written since the last drop
  }
}

/**
 * A compiled model shared by every sim of the same MJCF (a model is read-only while simulating;
 * Gymnasium compiles one per env, which costs memory and time here for nothing), counted so that the
 * last sim to close frees it.
 */
interface SharedModel {
  model: MjModel;
  users: number;
}

const models = new Map<string, SharedModel>();
let fileSerial = 0;

function acquireModel(mj: Mujoco, xml: string, envId: string): SharedModel {
  const known = models.get(xml);
  if (known) {
    known.users++;
    return known;
  }
  // The module reads MJCF from its in-memory file system; the file is gone once compiled.
  const path = `/proxima-model-${fileSerial++}.xml`;
  mj.FS.writeFile(path, xml);
  takeMessages();
  let model: MjModel | null;
  try {
    model = mj.MjModel.loadFromXML(path);
  } finally {
    mj.FS.unlink(path);
  }
  if (!model) {
    const why = takeMessages().join(" ").trim();
    throw new EnvError(
      "INVALID_OPTION",
      `MuJoCo could not compile the model: ${why || "no reason given"}`,
      envId,
    );
  }
  const shared = { model, users: 1 };
  models.set(xml, shared);
  return shared;
}

function releaseModel(xml: string, shared: SharedModel): void {
  shared.users--;
  if (shared.users === 0) {
    models.delete(xml);
    shared.model.delete();
  }
}

/** Frees what a sim that was never closed holds, once the GC has collected it. */
const finalizer = new FinalizationRegistry<{ data: MjData; xml: string; shared: SharedModel }>(
  ({ data, xml, shared }) => {
    data.delete();
    releaseModel(xml, shared);
  },
);

/**
 * Views onto one MjData's arrays (float64, in MuJoCo's layout: `xpos` is nbody × 3, `cfrc_ext`
 * nbody × 6, …). Replaced as a whole when the heap grows: read them as `sim.views.qpos[i]`, never keep
 * a view across a call that may allocate in the WebAssembly heap (making another env).
 */
export interface DataViews {
  readonly qpos: Float64Array;
  readonly qvel: Float64Array;
  readonly act: Float64Array;
  readonly ctrl: Float64Array;
  readonly qacc: Float64Array;
  readonly qaccWarmstart: Float64Array;
  readonly qfrcActuator: Float64Array;
  readonly qfrcConstraint: Float64Array;
  /** Body frames: positions (nbody × 3) and orientations (nbody × 4). */
  readonly xpos: Float64Array;
  readonly xquat: Float64Array;
  /** Bodies' centres of mass (nbody × 3), the world frame. */
  readonly xipos: Float64Array;
  readonly subtreeCom: Float64Array;
  readonly siteXpos: Float64Array;
  /** Geom frames: positions (ngeom × 3) and orientations as row-major rotation matrices (ngeom × 9). */
  readonly geomXpos: Float64Array;
  readonly geomXmat: Float64Array;
  /** com-based inertias (nbody × 10) and velocities (nbody × 6). */
  readonly cinert: Float64Array;
  readonly cvel: Float64Array;
  /** External (contact) forces on each body, nbody × 6, valid after `rnePostConstraint`. */
  readonly cfrcExt: Float64Array;
  /** Tendons' lengths and velocities (ntendon). */
  readonly tenLength: Float64Array;
  readonly tenVelocity: Float64Array;
}

function deriveViews(d: MjData): DataViews {
  return {
    qpos: d.qpos,
    qvel: d.qvel,
    act: d.act,
    ctrl: d.ctrl,
    qacc: d.qacc,
    qaccWarmstart: d.qacc_warmstart,
    qfrcActuator: d.qfrc_actuator,
    qfrcConstraint: d.qfrc_constraint,
    xpos: d.xpos,
    xquat: d.xquat,
    xipos: d.xipos,
    subtreeCom: d.subtree_com,
    siteXpos: d.site_xpos,
    geomXpos: d.geom_xpos,
    geomXmat: d.geom_xmat,
    cinert: d.cinert,
    cvel: d.cvel,
    cfrcExt: d.cfrc_ext,
    tenLength: d.ten_length,
    tenVelocity: d.ten_velocity,
  };
}

type NamedObject = "body" | "joint" | "geom" | "site" | "actuator";

/** MuJoCo's geom types (`mjtGeom`) that a drawing needs; the others are `other`. */
export type GeomShape = "plane" | "sphere" | "capsule" | "ellipsoid" | "cylinder" | "box" | "other";
const GEOM_SHAPES: Record<number, GeomShape> = {
  0: "plane",
  2: "sphere",
  3: "capsule",
  4: "ellipsoid",
  5: "cylinder",
  6: "box",
};

/** A geom of the model, as compiled (`geom_type`, `geom_size`, `geom_bodyid`, its name). */
export interface GeomInfo {
  name: string;
  shape: GeomShape;
  /** `geom_size`: a capsule's and a cylinder's radius and half-length, a sphere's radius, a box's half-sizes. */
  size: [number, number, number];
  /** The body it is attached to (0: the world, static). */
  body: number;
}

/** World poses of every geom: positions (ngeom × 3) and row-major rotation matrices (ngeom × 9). */
export interface GeomPoses {
  pos: Float64Array;
  mat: Float64Array;
}

/** Frees a sim's drawing data (see `geomPoses`) that a forgotten close leaves. */
const poseFinalizer = new FinalizationRegistry<MjData>((data) => data.delete());

/**
 * One simulation: a (shared) compiled model and its own MjData, with Gymnasium's `MujocoEnv`
 * primitives (`mujoco_env.py`: `mj_step` × n then `mj_rnePostConstraint`, `mj_resetData`,
 * `set_state` = write qpos/qvel then `mj_forward`).
 */
export class MujocoSim {
  readonly mj: Mujoco;
  /** The compiled model: read its fields while constructing an env and copy them; never write them. */
  readonly model: MjModel;
  readonly nq: number;
  readonly nv: number;
  readonly nu: number;
  readonly na: number;
  readonly nbody: number;
  /** `model.opt.timestep`. */
  readonly timestep: number;
  private data: MjData | null;
  private readonly xml: string;
  private readonly shared: SharedModel;
  private heap: ArrayBuffer;
  private current: DataViews;
  /** A second MjData of the same model where `geomPoses` computes the kinematics; made on first use. */
  private poseData: MjData | null = null;

  constructor(mj: Mujoco, xml: string, envId: string) {
    this.mj = mj;
    this.xml = xml;
    this.shared = acquireModel(mj, xml, envId);
    this.model = this.shared.model;
    const data = new mj.MjData(this.model);
    this.data = data;
    this.nq = this.model.nq;
    this.nv = this.model.nv;
    this.nu = this.model.nu;
    this.na = this.model.na;
    this.nbody = this.model.nbody;
    this.timestep = this.model.opt.timestep;
    this.current = deriveViews(data);
    this.heap = this.current.qpos.buffer as ArrayBuffer;
    finalizer.register(this, { data, xml, shared: this.shared }, this);
  }

  /** The views, re-derived first when the heap has grown since they were made. */
  get views(): DataViews {
    // A grown WebAssembly memory detaches the old buffer: its byteLength reads 0.
    if (this.heap.byteLength === 0) this.refreshViews();
    return this.current;
  }

  private refreshViews(): void {
    this.current = deriveViews(this.liveData());
    this.heap = this.current.qpos.buffer as ArrayBuffer;
  }

  /** The size of the WebAssembly heap in bytes (it grows, never shrinks). */
  heapBytes(): number {
    return this.views.qpos.buffer.byteLength;
  }

  get time(): number {
    return this.liveData().time;
  }

  set time(t: number) {
    this.liveData().time = t;
  }

  private liveData(): MjData {
    if (!this.data) throw new Error("this MuJoCo simulation has been closed");
    return this.data;
  }

  /** `mj_step` n times (MuJoCo clamps `ctrl` to `ctrlrange` for actuators with ctrllimited). */
  step(nFrames: number): void {
    const d = this.liveData();
    for (let i = 0; i < nFrames; i++) this.mj.mj_step(this.model, d);
  }

  forward(): void {
    this.mj.mj_forward(this.model, this.liveData());
  }

  /** Computes `cacc`, `cfrc_int` and `cfrc_ext`, which `mj_step` leaves stale (Gymnasium v5 calls it after every step). */
  rnePostConstraint(): void {
    this.mj.mj_rnePostConstraint(this.model, this.liveData());
  }

  /** `mj_resetData`: qpos = qpos0, qvel = 0, time = 0, warm start, controls, warnings and forces cleared. */
  resetData(): void {
    this.mj.mj_resetData(this.model, this.liveData());
  }

  /** Gymnasium's `set_state(qpos, qvel)`: writes both, then `mj_forward`. */
  setState(qpos: ArrayLike<number>, qvel: ArrayLike<number>): void {
    const v = this.views;
    v.qpos.set(qpos);
    v.qvel.set(qvel);
    this.forward();
  }

  /** The id of a named body/joint/geom/site/actuator (`mj_name2id`); throws when there is none. */
  id(kind: NamedObject, name: string): number {
    const objects = this.mj.mjtObj;
    const type = {
      body: objects.mjOBJ_BODY,
      joint: objects.mjOBJ_JOINT,
      geom: objects.mjOBJ_GEOM,
      site: objects.mjOBJ_SITE,
      actuator: objects.mjOBJ_ACTUATOR,
    }[kind].value;
    const id = this.mj.mj_name2id(this.model, type, name);
    if (id < 0) throw new RangeError(`the model has no ${kind} named ${JSON.stringify(name)}`);
    return id;
  }

  /** A copy of a model array (e.g. "body_mass", "actuator_ctrlrange", "qpos0"), safe to keep. */
  modelArray(field: keyof MjModel): Float64Array | Int32Array {
    const view = (this.model as unknown as Record<string, unknown>)[field as string];
    if (!(view instanceof Float64Array || view instanceof Int32Array)) {
      throw new RangeError(`MjModel.${String(field)} is not a numeric array`);
    }
    return view.slice();
  }

  /** The model's geoms, in MuJoCo's order (the order of `geomPoses`). */
  geoms(): GeomInfo[] {
    const m = this.model;
    const type = m.geom_type as Int32Array;
    const size = m.geom_size as Float64Array;
    const body = m.geom_bodyid as Int32Array;
    const geom = this.mj.mjtObj.mjOBJ_GEOM.value;
    return Array.from({ length: m.ngeom }, (_, i) => ({
      name: this.mj.mj_id2name(m, geom, i) ?? "",
      shape: GEOM_SHAPES[type[i]!] ?? "other",
      size: [size[3 * i]!, size[3 * i + 1]!, size[3 * i + 2]!] as [number, number, number],
      body: body[i]!,
    }));
  }

  /**
   * Every geom's world pose at the current `qpos`, copied. `mj_step` leaves `geom_xpos` and
   * `geom_xmat` as they were at the start of its last substep (its kinematics run before the
   * integration), so they are computed here by `mj_kinematics` on a second MjData given this qpos:
   * the poses of the state the step ended in, and the simulation's own data is not touched (a step
   * after this call is the step it would have been).
   */
  geomPoses(): GeomPoses {
    const d = this.liveData();
    if (!this.poseData) {
      this.poseData = new this.mj.MjData(this.model);
      poseFinalizer.register(this, this.poseData, this.poseData);
    }
    const p = this.poseData;
    (p.qpos as Float64Array).set(d.qpos as Float64Array);
    this.mj.mj_kinematics(this.model, p);
    return { pos: (p.geom_xpos as Float64Array).slice(), mat: (p.geom_xmat as Float64Array).slice() };
  }

  get closed(): boolean {
    return this.data === null;
  }

  /** Frees the MjData (and the model with the last sim that uses it). Idempotent. */
  close(): void {
    if (!this.data) return;
    if (this.poseData) {
      poseFinalizer.unregister(this.poseData);
      this.poseData.delete();
      this.poseData = null;
    }
    finalizer.unregister(this);
    this.data.delete();
    this.data = null;
    releaseModel(this.xml, this.shared);
  }
}
