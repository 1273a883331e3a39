/**
 * The MuJoCo envs against Python Gymnasium 1.3 + `mujoco` themselves: every reference number here was
 * recorded from the real library by scripts/reference/record_mujoco.py
 * (test/rl/fixtures/reference/mujoco/), never transcribed from its code. The per-env suite below is
 * test/helpers/mujoco-reference.ts's, shared with envs-mujoco-more.test.ts.
 *
 * - The registry's facts (frame skip, dt, sizes, action bounds, TimeLimit, reward_threshold) are
 *   Gymnasium's, and the spaces declared for listing are those the compiled model gives.
 * - A seeded reset gives Gymnasium's qpos and qvel exactly (its PCG64 draws, uniform and standard
 *   normal, reproduced), and its observation to float32.
 * - Single steps from recorded (qpos, qvel) and actions (float32 arrays, float64 arrays and lists, in
 *   and beyond the bounds, up to terminations): observations within 1e-6 (|a−b| ≤ 1e-6·max(1,|b|)),
 *   rewards and every info term within 1e-6, flags equal.
 * - Whole seeded episodes under the recorded action sequences (300 steps, and falls that terminate)
 *   stay within 1e-4; the test logs how many steps do and the largest deviation.
 *
 * Then what Gymnasium does not define or does differently: NaN actions, clamping, instability,
 * snapshots, freeing the WebAssembly memory, heap growth, lazy loading and wrong versions.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import test from "ava";
import { Rng } from "../../rl/core/rng.ts";
import {
  EnvError,
  loadedMujoco,
  type MujocoEnv,
  MujocoSim,
  makeEnv,
  offeredVersions,
  prepareEnv,
} from "../../rl/envs/index.ts";
import { makeVectorEnv } from "../../rl/envs/vector.ts";
import { fidelityTests, mujocoEnv } from "../helpers/mujoco-reference.ts";

const ENV_IDS = ["HalfCheetah-v5", "Hopper-v5", "Walker2d-v5", "Swimmer-v5"];

test.before(async () => {
  await prepareEnv("HalfCheetah-v5");
});

for (const envId of ENV_IDS) fidelityTests(envId);

test("a NaN or infinite action is an EnvError INVALID_ACTION", (t) => {
  const env = mujocoEnv("HalfCheetah-v5");
  env.reset({ seed: 1 });
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    const action = new Float32Array(6);
    action[2] = bad;
    t.is(t.throws(() => env.step(action), { instanceOf: EnvError }).code, "INVALID_ACTION");
  }
  env.close();
});

test("an action beyond ctrlrange is clamped by MuJoCo, and the control cost is charged on it as given", (t) => {
  const beyond = mujocoEnv("Hopper-v5");
  const atBound = mujocoEnv("Hopper-v5");
  beyond.reset({ seed: 4 });
  atBound.reset({ seed: 4 });
  const a = beyond.step(Float32Array.from([3, -2.5, 0.5]));
  const b = atBound.step(Float32Array.from([1, -1, 0.5]));
  t.deepEqual(a.observation, b.observation);
  t.is(a.info.reward_forward, b.info.reward_forward);
  t.is(a.info.reward_ctrl, -Math.fround(Math.fround(1e-3) * Math.fround(9 + 6.25 + 0.25)));
  t.is(b.info.reward_ctrl, -Math.fround(Math.fround(1e-3) * Math.fround(1 + 1 + 0.25)));
  beyond.close();
  atBound.close();
});

test("an unstable simulation ends the episode with info.simulationUnstable, never a NaN observation", (t) => {
  for (const [envId, corrupt] of [
    ["HalfCheetah-v5", (s: number[]) => s.fill(1e12, 9)],
    ["Walker2d-v5", (s: number[]) => (s[4] = Number.NaN)],
  ] as const) {
    const env = mujocoEnv(envId);
    env.reset({ seed: 0 });
    const state = Array.from(env.state);
    corrupt(state);
    env.state = state;
    const r = env.step(new Float32Array(env.actionDim));
    t.true(r.terminated, envId);
    t.is(r.reward, 0);
    t.regex(String(r.info.simulationUnstable), /Nan, Inf or huge value in Q(POS|VEL|ACC).*episode ends/);
    t.true(r.observation.every(Number.isFinite));
    t.true(env.state.every(Number.isFinite));
    t.is(
      t.throws(() => env.step(new Float32Array(env.actionDim)), { instanceOf: EnvError }).code,
      "EPISODE_FINISHED",
    );
    env.reset({ seed: 0 });
    const next = env.step(new Float32Array(env.actionDim));
    t.false(next.terminated);
    t.is(next.info.simulationUnstable, undefined);
    env.close();
  }
});

test("a snapshot (through JSON) resumes an env bit for bit, its generator included", (t) => {
  for (const envId of ENV_IDS) {
    const rng = new Rng(3);
    const actions = Array.from({ length: 80 }, () =>
      Float32Array.from({ length: 6 }, () => rng.uniformRange(-1.2, 1.2)),
    );
    const a = mujocoEnv(envId);
    a.reset({ seed: 8 });
    const act = (k: number) => actions[k].subarray(0, a.actionDim);
    for (let k = 0; k < 40; k++) if (a.step(act(k)).terminated) a.reset();
    const snap = JSON.parse(JSON.stringify(a.snapshot()));
    const trace = (env: MujocoEnv) => {
      const out: number[] = [];
      for (let k = 40; k < 80; k++) {
        const r = env.step(act(k));
        out.push(...r.observation, r.reward);
        if (r.terminated) out.push(...env.reset().observation);
      }
      out.push(...env.reset().observation);
      return out;
    };
    const b = mujocoEnv(envId);
    b.reset({ seed: 999 });
    b.step(act(0));
    b.restore(snap);
    const obs = new Float32Array(a.observationDim);
    const restored = new Float32Array(b.observationDim);
    a.observeInto(obs, 0);
    b.observeInto(restored, 0);
    t.deepEqual(restored, obs, envId);
    t.deepEqual(trace(b), trace(a), envId);
    a.close();
    b.close();
  }
});

test("a vector env of MuJoCo envs seeds env i with seed + i and autoresets at the TimeLimit", (t) => {
  const venv = makeVectorEnv("Swimmer-v5", 3, { maxEpisodeSteps: 5 });
  const obs = venv.reset({ seed: 10 }).slice();
  for (let i = 0; i < 3; i++) {
    const single = mujocoEnv("Swimmer-v5");
    t.deepEqual(obs.subarray(i * 8, i * 8 + 8), single.reset({ seed: 10 + i }).observation);
    single.close();
  }
  const actions = new Float32Array(6).fill(0.3);
  for (let k = 0; k < 4; k++) t.deepEqual(Array.from(venv.step(actions).truncated), [0, 0, 0]);
  const last = venv.step(actions);
  t.deepEqual(Array.from(last.truncated), [1, 1, 1]);
  t.is(last.episodes.length, 3);
  venv.close();
});

/** A sim of a model no env uses, to read the heap's size without holding any env's model. */
function heapProbe(): MujocoSim {
  const mj = loadedMujoco();
  if (!mj) throw new Error("engine not loaded");
  const xml = `<mujoco model="probe"><worldbody><body><joint type="free"/><geom size=".1"/></body></worldbody></mujoco>`;
  return new MujocoSim(mj, xml, "probe");
}

test("closing envs frees their MuJoCo data and models: making and closing many does not grow the heap", (t) => {
  const probe = heapProbe();
  const cycle = () => {
    for (const envId of ENV_IDS) {
      const env = mujocoEnv(envId);
      env.reset({ seed: 1 });
      env.step(new Float32Array(env.actionDim));
      env.close();
      env.close(); // idempotent
    }
  };
  for (let k = 0; k < 10; k++) cycle();
  const before = probe.heapBytes();
  // Each MjData takes ~13 MB of arena: 400 of them unfreed would need 5 GB, past the 4 GB heap.
  for (let k = 0; k < 100; k++) cycle();
  t.is(probe.heapBytes(), before);
  const closed = mujocoEnv("Hopper-v5");
  closed.close();
  t.throws(() => closed.reset({ seed: 0 }), { message: /closed/ });
  probe.close();
});

test("views onto the heap are re-derived when the WebAssembly memory grows mid-episode", (t) => {
  const probe = heapProbe();
  const actions = Array.from({ length: 20 }, (_, k) => new Float32Array(6).fill(Math.sin(k)));
  const grown = mujocoEnv("HalfCheetah-v5");
  grown.reset({ seed: 5 });
  const traceGrown: number[] = [];
  for (let k = 0; k < 10; k++) traceGrown.push(...grown.step(actions[k]).observation);
  const oldView = probe.views.qpos;
  const heapBefore = probe.heapBytes();
  // Open envs until the heap has to grow (each MjData reserves ~13 MB).
  const extra: MujocoEnv[] = [];
  while (oldView.buffer.byteLength !== 0 && extra.length < 400) extra.push(mujocoEnv("Swimmer-v5"));
  t.is(oldView.buffer.byteLength, 0, "the old views are detached");
  t.true(probe.heapBytes() > heapBefore);
  for (let k = 10; k < 20; k++) traceGrown.push(...grown.step(actions[k]).observation);
  const steady = mujocoEnv("HalfCheetah-v5");
  steady.reset({ seed: 5 });
  const traceSteady: number[] = [];
  for (let k = 0; k < 20; k++) traceSteady.push(...steady.step(actions[k]).observation);
  t.deepEqual(traceGrown, traceSteady);
  for (const env of [...extra, grown, steady]) env.close();
  probe.close();
});

test("an id with the wrong version is UNKNOWN_ENV naming the versions offered", (t) => {
  const err = t.throws(() => makeEnv("HalfCheetah-v4"), { instanceOf: EnvError });
  t.is(err.code, "UNKNOWN_ENV");
  t.regex(err.message, /"HalfCheetah-v4": the versions offered are HalfCheetah-v5 \(known ids: .*Hopper-v5/);
  t.deepEqual(offeredVersions("CartPole-v3"), ["CartPole-v0", "CartPole-v1"]);
  t.deepEqual(offeredVersions("Nope-v1"), []);
});

test("listing envs and their spaces never loads the engine; makeEnv before prepareEnv says to await it", async (t) => {
  const script = `
    import { builtinSpaces, listEnvs, loadedMujoco, makeEnv, prepareEnv } from "./rl/envs/index.ts";
    const listed = listEnvs().filter((e) => e.id.endsWith("-v5")).map((e) => e.id);
    builtinSpaces("Hopper-v5");
    const loadedByListing = loadedMujoco() !== null;
    let code = null;
    try { makeEnv("Hopper-v5"); } catch (err) { code = err.code + ": " + err.message; }
    await prepareEnv("Hopper-v5");
    const env = makeEnv("Hopper-v5");
    env.close();
    console.log(JSON.stringify({ listed, loadedByListing, code, loadedAfter: loadedMujoco() !== null }));
  `;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", "--input-type=module", "-e", script],
    { cwd: new URL("../..", import.meta.url).pathname },
  );
  const out = JSON.parse(stdout.trim().split("\n").at(-1) as string);
  for (const id of ENV_IDS) t.true(out.listed.includes(id), id);
  t.false(out.loadedByListing);
  t.regex(out.code, /^ENGINE_NOT_LOADED: Hopper-v5: .*await prepareEnv/);
  t.true(out.loadedAfter);
});
