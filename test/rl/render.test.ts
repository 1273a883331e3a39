/**
 * Recording an episode for drawing (rl/envs/render.ts, rl/ppo/evaluation.ts `replayPolicy`): a MuJoCo
 * robot's geom poses are the engine's own for the state drawn, reading them leaves the simulation as
 * it was, and a recorded episode is, reward for reward, the episode the evaluation of the same policy
 * plays on the same seed.
 */
import test from "ava";
import type { MujocoSim } from "../../rl/envs/mujoco/engine.ts";
import type { MujocoEnv } from "../../rl/envs/mujoco/mujoco-env.ts";
import { builtinSpaces, makeEnv, prepareEnv } from "../../rl/envs/registry.ts";
import { projectGeoms, recordEpisode, rendererOf } from "../../rl/envs/render.ts";
import { parameterLayout } from "../../rl/nn/actor-critic.ts";
import { wasmGemm } from "../../rl/nn/gemm-wasm.ts";
import { evaluatePolicy, replayPolicy } from "../../rl/ppo/evaluation.ts";
import { resolveHyperparameters } from "../../rl/ppo/hyperparameters.ts";
import { networkSpecOf } from "../../rl/ppo/network.ts";

test.before(async () => {
  await prepareEnv("Hopper-v5");
});

/** The engine's own data of an env (its simulation is private to rl/). */
const simOf = (env: MujocoEnv) => (env as unknown as { sim: MujocoSim }).sim;

function actions(dim: number, step: number): Float32Array {
  return Float32Array.from({ length: dim }, (_, i) => Math.sin(step * 0.37 + i * 1.3));
}

test("a MuJoCo env's geom poses are those the engine computes for the state drawn, and reading them changes no step", (t) => {
  for (const id of ["Hopper-v5", "Reacher-v5", "Ant-v5"]) {
    const env = makeEnv(id) as MujocoEnv;
    const twin = makeEnv(id) as MujocoEnv;
    const check = makeEnv(id) as MujocoEnv;
    try {
      env.reset({ seed: 5 });
      twin.reset({ seed: 5 });
      // After a reset, set_state ran mj_forward: the env's own data holds the poses of its state.
      const atReset = env.geomPoses();
      t.deepEqual(atReset.pos, simOf(env).views.geomXpos.slice(), `${id}: positions at reset`);
      t.deepEqual(atReset.mat, simOf(env).views.geomXmat.slice(), `${id}: orientations at reset`);
      for (let k = 0; k < 20; k++) {
        const a = actions(env.actionDim, k);
        const r1 = env.step(a);
        const r2 = twin.step(a);
        t.deepEqual(r1.observation, r2.observation, `${id}: step ${k} is the same with poses read`);
        t.is(r1.reward, r2.reward);
        const poses = env.geomPoses();
        // A restore runs mj_forward on the state: the engine's poses of the state the step ended in.
        check.restore(env.snapshot());
        t.deepEqual(poses.pos, simOf(check).views.geomXpos.slice(), `${id}: positions after step ${k}`);
        t.deepEqual(poses.mat, simOf(check).views.geomXmat.slice(), `${id}: orientations after step ${k}`);
        if (r1.terminated) break;
      }
    } finally {
      env.close();
      twin.close();
      check.close();
    }
  }
});

test("a side view projects each capsule on (x, z) as its centre and half-axis; a top view on (x, y)", (t) => {
  const env = makeEnv("Hopper-v5") as MujocoEnv;
  try {
    env.reset({ seed: 0 });
    const renderer = rendererOf(env);
    t.is(renderer.scene.kind, "mujoco");
    if (renderer.scene.kind !== "mujoco") return;
    t.is(renderer.scene.view, "side");
    t.is(renderer.scene.floor, 0);
    const geoms = env.geoms();
    const torso = geoms.findIndex((g) => g.name === "torso_geom");
    const drawnAt = renderer.scene.geoms.findIndex((g) => g.name === "torso_geom");
    const poses = env.geomPoses();
    const [u, v, au, av] = renderer.state().slice(4 * drawnAt, 4 * drawnAt + 4);
    // Hopper's torso: fromto 0 0 1.45 → 0 0 1.05 (radius 0.05), upright near the reset.
    t.true(Math.abs(u! - poses.pos[3 * torso]!) <= 5e-5);
    t.true(Math.abs(v! - poses.pos[3 * torso + 2]!) <= 5e-5);
    t.true(
      Math.abs(Math.hypot(au!, av!) - geoms[torso]!.size[1]) < 1e-3,
      "half-length 0.2 when in the plane",
    );
    t.is(renderer.scene.geoms[drawnAt]!.radius, 0.05);
    const top = projectGeoms(poses, [{ g: geoms[torso]!, index: torso }], "top");
    t.true(Math.abs(top[1]! - poses.pos[3 * torso + 1]!) < 1e-5, "top view: v is y");
  } finally {
    env.close();
  }
});

for (const envId of ["CartPole-v1", "Pendulum-v1", "Hopper-v5"]) {
  test(`a recorded ${envId} episode of a policy is the evaluation's episode on that seed, return for return`, (t) => {
    const config = resolveHyperparameters(envId, "cleanrl", { seed: 1 });
    const spec = networkSpecOf(builtinSpaces(envId), config);
    const params = Float32Array.from({ length: parameterLayout(spec).size }, (_, i) =>
      Math.fround(Math.sin(i * 12.9898) * 0.6),
    );
    const episodes = 4;
    // The platform's kernel (the evaluation runs a batch of 4 rows, the replay one).
    const gemm = wasmGemm() ?? undefined;
    const evaluation = evaluatePolicy(envId, spec, params, episodes, 100, gemm);
    for (let k = 0; k < episodes; k++) {
      const replay = replayPolicy(envId, spec, params, 100 + k, gemm);
      t.is(replay.return, evaluation.returns[k], `episode ${k}`);
      t.is(replay.length, evaluation.lengths[k]);
      t.is(replay.states.length, replay.length + 1);
      t.is(
        replay.rewards.reduce((a, b) => a + b, 0),
        replay.return,
      );
    }
  });
}

test("a classic-control episode records the env's state after the reset and after each step", (t) => {
  const env = makeEnv("CartPole-v1");
  const episode = recordEpisode(env, 3, () => Int32Array.of(0));
  t.deepEqual(episode.scene, { kind: "cartpole" });
  const fresh = makeEnv("CartPole-v1");
  fresh.reset({ seed: 3 });
  t.deepEqual(episode.states[0], Array.from(fresh.state));
  fresh.step(0);
  t.deepEqual(episode.states[1], Array.from(fresh.state));
  t.deepEqual(episode.actions[0], [0]);
  t.true(episode.terminated, "always pushing left, the pole falls");
  t.is(episode.dt, 1 / 50);
});
