/**
 * InvertedPendulum-v5, InvertedDoublePendulum-v5, Reacher-v5, Ant-v5 and Humanoid-v5 against Python
 * Gymnasium 1.3 + `mujoco` themselves (test/helpers/mujoco-reference.ts: facts, seeded resets, single
 * steps, whole seeded episodes, from scripts/reference/record_mujoco.py's fixtures), then what
 * Gymnasium does not check: snapshots that resume bit for bit with the data these envs read between
 * steps, and Reacher's goal.
 */
import test from "ava";
import { Rng } from "../../rl/core/rng.ts";
import { prepareEnv } from "../../rl/envs/index.ts";
import { fidelityTests, mujocoEnv } from "../helpers/mujoco-reference.ts";

const ENV_IDS = ["InvertedPendulum-v5", "InvertedDoublePendulum-v5", "Reacher-v5", "Ant-v5", "Humanoid-v5"];

/**
 * Humanoid-v5 does not reach the 1e-6 / 1e-4 targets, for a reason of the engines rather than of the
 * env: its model asks for the PGS solver (50 iterations), which MuJoCo rewrote after 3.3.8 (the
 * WebAssembly build here) and before 3.14 (the Python `mujoco` Gymnasium runs on): Nesterov momentum
 * with restarts, another constraint visitation order. Stopping short of convergence at different
 * points, the two give contact forces that differ by up to ~1e-3 (relative) in a step with contacts,
 * velocities by ~1e-5, the contact cost by ~4e-6; steps without contacts agree to float32. These are
 * the bounds measured on the recorded steps (23 of 55 steps are past 1e-6). The falling episode agrees
 * within 1e-4 for its first 25 of 107 steps, then drifts (logged).
 */
const HUMANOID_BOUNDS = { obsTolerance: 1e-3, rewardTolerance: 1e-5, episodeAgreement: 20 };

test.before(async () => {
  await prepareEnv("Ant-v5");
});

for (const envId of ENV_IDS) fidelityTests(envId, envId === "Humanoid-v5" ? HUMANOID_BOUNDS : {});

test("a snapshot (through JSON) resumes these envs bit for bit, the data they read between steps included", (t) => {
  for (const envId of ENV_IDS) {
    const rng = new Rng(5);
    const a = mujocoEnv(envId);
    const actions = Array.from({ length: 80 }, () =>
      Float32Array.from(a.actionSpace.high, (high) => rng.uniformRange(-0.5, 0.5) * high),
    );
    a.reset({ seed: 8 });
    for (let k = 0; k < 40; k++) {
      const r = a.step(actions[k]);
      if (r.terminated || r.truncated) a.reset();
    }
    const snap = JSON.parse(JSON.stringify(a.snapshot()));
    const trace = (env: typeof a) => {
      const out = Array.from(new Float32Array(env.observationDim));
      const obs = new Float32Array(env.observationDim);
      env.observeInto(obs, 0);
      out.push(...obs);
      for (let k = 40; k < 80; k++) {
        const r = env.step(actions[k]);
        out.push(...r.observation, r.reward);
        if (r.terminated || r.truncated) out.push(...env.reset().observation);
      }
      return out;
    };
    const b = mujocoEnv(envId);
    b.reset({ seed: 999 });
    b.step(actions[0]);
    b.restore(snap);
    t.deepEqual(trace(b), trace(a), envId);
    a.close();
    b.close();
  }
});

test("Reacher-v5's goal is drawn inside the disc of radius 0.2 and starts at rest", (t) => {
  const env = mujocoEnv("Reacher-v5");
  for (let seed = 0; seed < 200; seed++) {
    env.reset({ seed });
    const [, , gx, gy, , , vx, vy] = env.state;
    t.true(Math.hypot(gx, gy) < 0.2, `seed ${seed}`);
    t.is(vx, 0);
    t.is(vy, 0);
  }
  env.close();
});
