import test from "ava";
import { Rng } from "../../rl/core/rng.ts";
import { EnvError, makeEnv, makeVectorEnv, type VectorStepResult } from "../../rl/envs/index.ts";

function rowOf(a: Float32Array, i: number, dim: number): number[] {
  return Array.from(a.subarray(i * dim, (i + 1) * dim));
}

/** A plain copy of one step's result (the vector env reuses its buffers). */
function copyStep(r: VectorStepResult) {
  return {
    observations: Array.from(r.observations),
    rewards: Array.from(r.rewards),
    terminated: Array.from(r.terminated),
    truncated: Array.from(r.truncated),
    finalObservations: Array.from(r.finalObservations),
    hasFinal: Array.from(r.hasFinal),
    episodes: r.episodes.map((e) => ({ ...e })),
  };
}

function randomActions(id: string, n: number, rng: Rng): Int32Array | Float32Array {
  const env = makeEnv(id);
  if (env.actionSpace.kind === "discrete") {
    const space = env.actionSpace;
    return Int32Array.from({ length: n }, () => rng.int(space.n));
  }
  return Float32Array.from({ length: n }, () => rng.uniformRange(-1, 1));
}

test("reset({ seed }) seeds env i with seed + i", (t) => {
  const vec = makeVectorEnv("CartPole-v1", 4);
  const obs = vec.reset({ seed: 10 });
  t.is(obs.length, 16);
  for (let i = 0; i < 4; i++) {
    const single = makeEnv("CartPole-v1");
    t.deepEqual(rowOf(obs, i, 4), Array.from(single.reset({ seed: 10 + i }).observation));
  }
});

test("accessors describe one sub-env", (t) => {
  const vec = makeVectorEnv("Pendulum-v1", 3);
  t.is(vec.numEnvs, 3);
  t.deepEqual(vec.singleObservationSpace.shape, [3]);
  t.is(vec.singleActionSpace.kind, "box");
  t.is(vec.observationDim, 3);
  t.is(vec.actionDim, 1);
});

test("SAME_STEP autoreset: a finished row holds the next episode's first observation, the terminal one is in finalObservations", (t) => {
  const n = 3;
  const vec = makeVectorEnv("CartPole-v1", n);
  vec.reset({ seed: 1 });
  // Replicas stepped by hand with the same seeds and actions.
  const replicas = Array.from({ length: n }, (_, i) => {
    const env = makeEnv("CartPole-v1");
    env.reset({ seed: 1 + i });
    return env;
  });
  const actions = new Int32Array(n).fill(1); // always push right: episodes end after a few steps
  let sawFinal = 0;
  for (let step = 0; step < 60; step++) {
    const r = vec.step(actions);
    for (let i = 0; i < n; i++) {
      const single = replicas[i].step(1);
      t.is(r.rewards[i], single.reward);
      t.is(r.terminated[i], single.terminated ? 1 : 0);
      t.is(r.truncated[i], single.truncated ? 1 : 0);
      if (single.terminated || single.truncated) {
        sawFinal++;
        t.is(r.hasFinal[i], 1);
        t.deepEqual(rowOf(r.finalObservations, i, 4), Array.from(single.observation));
        // The autoreset continues env i's own stream (no new seed).
        t.deepEqual(rowOf(r.observations, i, 4), Array.from(replicas[i].reset().observation));
      } else {
        t.is(r.hasFinal[i], 0);
        t.deepEqual(rowOf(r.observations, i, 4), Array.from(single.observation));
        t.deepEqual(rowOf(r.finalObservations, i, 4), [0, 0, 0, 0]);
      }
    }
  }
  t.true(sawFinal >= 6, `episodes finished: ${sawFinal}`);
});

test("episode statistics equal the float64 sum of rewards and the step count", (t) => {
  const n = 4;
  const vec = makeVectorEnv("Pendulum-v1", n, { maxEpisodeSteps: 17 });
  vec.reset({ seed: 3 });
  const rng = new Rng(0);
  const sums = new Float64Array(n);
  const lengths = new Int32Array(n);
  const replicas = Array.from({ length: n }, (_, i) => {
    const env = makeEnv("Pendulum-v1", { maxEpisodeSteps: 17 });
    env.reset({ seed: 3 + i });
    return env;
  });
  let episodes = 0;
  for (let step = 0; step < 40; step++) {
    const actions = randomActions("Pendulum-v1", n, rng);
    const r = vec.step(actions);
    const ended = new Map(r.episodes.map((e) => [e.index, e]));
    for (let i = 0; i < n; i++) {
      const single = replicas[i].step(actions.subarray(i, i + 1) as Float32Array);
      sums[i] += single.reward;
      lengths[i]++;
      t.is(r.rewards[i], Math.fround(single.reward));
      if (single.truncated) {
        const e = ended.get(i);
        t.truthy(e);
        t.is(e?.return, sums[i]);
        t.is(e?.length, 17);
        t.is(e?.length, lengths[i]);
        episodes++;
        sums[i] = 0;
        lengths[i] = 0;
        replicas[i].reset();
      } else {
        t.false(ended.has(i));
      }
    }
  }
  t.is(episodes, 2 * n);
});

test("the returned buffers are preallocated and reused across steps", (t) => {
  const vec = makeVectorEnv("Acrobot-v1", 2);
  const obs = vec.reset({ seed: 0 });
  const a = vec.step(Int32Array.of(0, 2));
  const b = vec.step(Int32Array.of(1, 1));
  t.is(a, b);
  t.is(a.observations, obs);
  t.is(vec.observations, obs);
});

test("getState/setState resumes the exact same stream, through JSON", (t) => {
  for (const id of ["CartPole-v1", "MountainCarContinuous-v0", "Acrobot-v1", "Pendulum-v1"]) {
    const n = 3;
    const opts = { maxEpisodeSteps: 25 };
    const a = makeVectorEnv(id, n, opts);
    a.reset({ seed: 42 });
    const rng = new Rng(1);
    for (let k = 0; k < 40; k++) a.step(randomActions(id, n * a.actionDim, rng));
    const saved = JSON.parse(JSON.stringify(a.getState()));
    const savedObs = Array.from(a.observations);
    const rngState = rng.getState();

    const b = makeVectorEnv(id, n, opts);
    b.setState(saved);
    t.deepEqual(Array.from(b.observations), savedObs, `${id} observations restored`);
    const rngB = Rng.fromState(rngState);
    for (let k = 0; k < 80; k++) {
      const ra = copyStep(a.step(randomActions(id, n * a.actionDim, rng)));
      const rb = copyStep(b.step(randomActions(id, n * b.actionDim, rngB)));
      t.deepEqual(rb, ra, `${id} step ${k}`);
    }
  }
});

test("setState rejects a state of another env or size", (t) => {
  const a = makeVectorEnv("CartPole-v1", 2);
  a.reset({ seed: 0 });
  const state = a.getState();
  t.is(
    t.throws(() => makeVectorEnv("CartPole-v1", 3).setState(state), { instanceOf: EnvError }).code,
    "INVALID_STATE",
  );
  t.is(
    t.throws(() => makeVectorEnv("Acrobot-v1", 2).setState(state), { instanceOf: EnvError }).code,
    "INVALID_STATE",
  );
});

test("step before reset, wrong action arrays and invalid action values throw EnvError", (t) => {
  const vec = makeVectorEnv("CartPole-v1", 2);
  t.is(t.throws(() => vec.step(Int32Array.of(0, 1)), { instanceOf: EnvError }).code, "RESET_NEEDED");
  vec.reset({ seed: 0 });
  t.is(t.throws(() => vec.step(Int32Array.of(0)), { instanceOf: EnvError }).code, "INVALID_ACTION");
  t.is(t.throws(() => vec.step(Float32Array.of(0, 1)), { instanceOf: EnvError }).code, "INVALID_ACTION");
  t.is(t.throws(() => vec.step(Int32Array.of(0, 2)), { instanceOf: EnvError }).code, "INVALID_ACTION");
  const box = makeVectorEnv("Pendulum-v1", 2);
  box.reset({ seed: 0 });
  t.is(t.throws(() => box.step(Int32Array.of(0, 0)), { instanceOf: EnvError }).code, "INVALID_ACTION");
  t.is(
    t.throws(() => box.step(Float32Array.of(0, Number.NaN)), { instanceOf: EnvError }).code,
    "INVALID_ACTION",
  );
  t.is(t.throws(() => makeVectorEnv("CartPole-v1", 0), { instanceOf: EnvError }).code, "INVALID_OPTION");
});

test("the same seed gives the same vectorised rollout", (t) => {
  const run = () => {
    const vec = makeVectorEnv("MountainCar-v0", 4, { maxEpisodeSteps: 30 });
    vec.reset({ seed: 8 });
    const rng = new Rng(2);
    const out = [];
    for (let k = 0; k < 100; k++) out.push(copyStep(vec.step(randomActions("MountainCar-v0", 4, rng))));
    return out;
  };
  t.deepEqual(run(), run());
});
