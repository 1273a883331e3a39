/**
 * What a drawing of an env needs, recorded step by step (contracts/replay.ts): the scene (what does
 * not change) and, after the reset and after every step, the state to draw. The classic-control
 * envs give their physical state, which is all Gymnasium's renderers read
 * (`gymnasium/envs/classic_control/*.py`, `render`); a MuJoCo robot gives its geoms projected on a
 * plane, a side view (x, z) for the walkers and pendulums, a top view (x, y) for the robots that move
 * in the horizontal plane (Reacher's arm, Swimmer, Ant).
 */

import type { ReplayEpisode, ReplayGeom, ReplayScene } from "../../contracts/replay.ts";
import { AcrobotEnv } from "./acrobot.ts";
import { CartPoleEnv } from "./cartpole.ts";
import type { ClassicControlEnv } from "./env-base.ts";
import { EnvError } from "./errors.ts";
import { GOAL_POSITION as MOUNTAIN_CAR_GOAL, MountainCarEnv } from "./mountain-car.ts";
import {
  GOAL_POSITION as MOUNTAIN_CAR_CONTINUOUS_GOAL,
  MountainCarContinuousEnv,
} from "./mountain-car-continuous.ts";
import type { GeomInfo, GeomPoses } from "./mujoco/engine.ts";
import { MujocoEnv } from "./mujoco/mujoco-env.ts";
import { F32 } from "./numpy-scalars.ts";
import { PendulumEnv } from "./pendulum.ts";

/**
 * How each MuJoCo robot is looked at: the plane, whether the view follows it, and half the view's
 * height in metres (what fits the robot standing, or the pendulums' rail, or Reacher's arena).
 */
const MUJOCO_VIEWS: Record<string, { view: "side" | "top"; follow: boolean; extent: number }> = {
  HalfCheetah: { view: "side", follow: true, extent: 1.2 },
  Hopper: { view: "side", follow: true, extent: 1 },
  Walker2d: { view: "side", follow: true, extent: 1 },
  Humanoid: { view: "side", follow: true, extent: 1.1 },
  InvertedPendulum: { view: "side", follow: false, extent: 1.2 },
  InvertedDoublePendulum: { view: "side", follow: false, extent: 1.4 },
  Swimmer: { view: "top", follow: true, extent: 1.2 },
  Ant: { view: "top", follow: true, extent: 2.5 },
  Reacher: { view: "top", follow: false, extent: 0.35 },
};

/**
 * Gymnasium's `metadata["render_fps"]` of the classic-control envs: the rate its human renderer plays
 * an episode at (CartPole 50, Acrobot 15, MountainCar 30, Pendulum 30).
 */
const CLASSIC_FPS = { cartpole: 50, acrobot: 15, "mountain-car": 30, pendulum: 30 } as const;

/**
 * Positions to 0.1 mm (under a tenth of a pixel at the player's largest scale) and actions to 1e-4: what
 * a drawing needs, in about half the JSON of full doubles (a 1,000-step HalfCheetah episode).
 */
const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

/** Draws one env: its scene, and its drawing state now. */
export interface EnvRenderer {
  scene: ReplayScene;
  /** Seconds of simulated time per step. */
  dt: number;
  state(): number[];
}

/** The renderer of a built-in env; an env nothing here can draw (one defined by code) is an EnvError. */
export function rendererOf(env: ClassicControlEnv): EnvRenderer {
  const classic = (scene: ReplayScene & { kind: keyof typeof CLASSIC_FPS }): EnvRenderer => ({
    scene,
    dt: 1 / CLASSIC_FPS[scene.kind],
    state: () => Array.from(env.state),
  });
  if (env instanceof CartPoleEnv) return classic({ kind: "cartpole" });
  if (env instanceof AcrobotEnv) return classic({ kind: "acrobot" });
  if (env instanceof MountainCarEnv)
    return classic({ kind: "mountain-car", goalPosition: MOUNTAIN_CAR_GOAL });
  if (env instanceof MountainCarContinuousEnv)
    return classic({ kind: "mountain-car", goalPosition: MOUNTAIN_CAR_CONTINUOUS_GOAL });
  if (env instanceof PendulumEnv) return classic({ kind: "pendulum" });
  if (env instanceof MujocoEnv) return mujocoRenderer(env);
  throw new EnvError("UNKNOWN_ENV", `there is no drawing of ${env.id}`, env.id);
}

function mujocoRenderer(env: MujocoEnv): EnvRenderer {
  const look = MUJOCO_VIEWS[env.id.replace(/-v\d+$/, "")];
  if (!look) throw new EnvError("UNKNOWN_ENV", `there is no drawing of ${env.id}`, env.id);
  const all = env.geoms();
  const drawn = all
    .map((g, index) => ({ g, index }))
    .filter(({ g }) => g.shape === "capsule" || g.shape === "cylinder" || g.shape === "sphere");
  const geoms: ReplayGeom[] = drawn.map(({ g }) => ({
    name: g.name,
    shape: g.shape as ReplayGeom["shape"],
    radius: g.size[0],
    body: g.body,
  }));
  const floorIndex = all.findIndex((g) => g.shape === "plane");
  const floor =
    look.view === "side" && floorIndex >= 0 ? round4(env.geomPoses().pos[3 * floorIndex + 2]!) : null;
  return {
    scene: { kind: "mujoco", ...look, floor, geoms },
    dt: env.dt,
    state: () => projectGeoms(env.geomPoses(), drawn, look.view),
  };
}

/**
 * Each geom as [u, v, au, av] on the view's plane: its centre, and its local z axis (a capsule's
 * and a cylinder's axis, MuJoCo's convention) times its half-length; a sphere has none.
 */
export function projectGeoms(
  poses: GeomPoses,
  geoms: readonly { g: GeomInfo; index: number }[],
  view: "side" | "top",
): number[] {
  const out: number[] = [];
  const second = view === "side" ? 2 : 1;
  for (const { g, index } of geoms) {
    const p = 3 * index;
    const m = 9 * index;
    const half = g.shape === "sphere" ? 0 : g.size[1];
    // Row-major rotation: the local z axis in world coordinates is the third column.
    const axis = [poses.mat[m + 2]!, poses.mat[m + 5]!, poses.mat[m + 8]!];
    out.push(
      round4(poses.pos[p]!),
      round4(poses.pos[p + second]!),
      round4(axis[0]! * half),
      round4(axis[second]! * half),
    );
  }
  return out;
}

/**
 * Plays one episode from `reset({ seed })` with the actions `act` chooses for each observation and
 * records it for drawing. The env steps as a vector env's sub-env does (float32 Box actions, the
 * return summed in float64), so that the episode is, reward for reward, the one an evaluation of the
 * same policy on the same seed plays (rl/ppo/trainer.ts `evaluatePolicy`).
 */
export function recordEpisode(
  env: ClassicControlEnv,
  seed: number,
  act: (obs: Float32Array) => Int32Array | Float32Array,
): ReplayEpisode {
  const renderer = rendererOf(env);
  const obs = new Float32Array(env.observationDim);
  env.resetInto(obs, 0, seed);
  const states = [renderer.state()];
  const rewards: number[] = [];
  const actions: number[][] = [];
  let total = 0;
  for (;;) {
    const action = act(obs);
    actions.push(Array.from(action, round4));
    const reward = env.stepInto(action, 0, F32, obs, 0);
    total += reward;
    rewards.push(reward);
    states.push(renderer.state());
    if (env.lastTerminated || env.lastTruncatedFlag) break;
  }
  return {
    envId: env.id,
    seed,
    dt: renderer.dt,
    scene: renderer.scene,
    states,
    rewards,
    actions,
    return: total,
    length: rewards.length,
    terminated: env.lastTerminated,
    truncated: env.lastTruncatedFlag,
  };
}
