import test from "ava";
import { Rng } from "../../rl/core/rng.ts";
import {
  box,
  type ClassicControlEnv,
  contains,
  describeSpace,
  discrete,
  EnvError,
  envIds,
  flatDim,
  isEnvId,
  isMujocoEnvId,
  listEnvs,
  makeEnv,
  sample,
} from "../../rl/envs/index.ts";

// The classic-control envs; the MuJoCo ones have their own tests (envs-mujoco.test.ts).
const IDS = envIds().filter((id) => !isMujocoEnvId(id));

function randomAction(env: ClassicControlEnv, rng: Rng): number | Float32Array {
  // Box actions sampled a little beyond the bounds too: Gymnasium's continuous envs accept and clip them.
  const space = env.actionSpace;
  if (space.kind === "discrete") return sample(space, rng);
  return Float32Array.from(space.low, (lo, i) => rng.uniformRange(lo * 1.5, space.high[i] * 1.5));
}

/** Runs `episodes` seeded episodes with seeded random actions; returns every observation and reward. */
function rollout(id: string, seed: number, episodes: number, maxEpisodeSteps?: number) {
  const env = makeEnv(id, maxEpisodeSteps === undefined ? {} : { maxEpisodeSteps });
  const rng = new Rng(seed + 1000);
  const observations: number[][] = [];
  const rewards: number[] = [];
  for (let e = 0; e < episodes; e++) {
    let { observation } = env.reset(e === 0 ? { seed } : {});
    observations.push(Array.from(observation));
    for (;;) {
      const r = env.step(randomAction(env, rng));
      observation = r.observation;
      observations.push(Array.from(observation));
      rewards.push(r.reward);
      if (r.terminated || r.truncated) break;
    }
  }
  return { observations, rewards };
}

// ---- registry ----

test("the registry lists the five classic-control envs with Gymnasium's limits and thresholds", (t) => {
  const classic = listEnvs().filter((e) => !isMujocoEnvId(e.id));
  const byId = Object.fromEntries(classic.map((e) => [e.id, e]));
  t.deepEqual(Object.keys(byId).sort(), [
    "Acrobot-v1",
    "CartPole-v0",
    "CartPole-v1",
    "MountainCar-v0",
    "MountainCarContinuous-v0",
    "Pendulum-v1",
  ]);
  t.deepEqual(byId["CartPole-v1"], {
    id: "CartPole-v1",
    observationShape: [4],
    actionSpace: "Discrete(2)",
    maxEpisodeSteps: 500,
    rewardThreshold: 475,
  });
  t.is(byId["CartPole-v0"].maxEpisodeSteps, 200);
  t.is(byId["CartPole-v0"].rewardThreshold, 195);
  t.is(byId["Acrobot-v1"].maxEpisodeSteps, 500);
  t.is(byId["Acrobot-v1"].rewardThreshold, -100);
  t.is(byId["MountainCar-v0"].maxEpisodeSteps, 200);
  t.is(byId["MountainCar-v0"].rewardThreshold, -110);
  t.is(byId["MountainCarContinuous-v0"].maxEpisodeSteps, 999);
  t.is(byId["MountainCarContinuous-v0"].rewardThreshold, 90);
  t.is(byId["MountainCarContinuous-v0"].actionSpace, "Box(-1, 1, (1,))");
  t.is(byId["Pendulum-v1"].maxEpisodeSteps, 200);
  t.is(byId["Pendulum-v1"].rewardThreshold, undefined);
  t.deepEqual(byId["Acrobot-v1"].observationShape, [6]);
  t.deepEqual(byId["Pendulum-v1"].observationShape, [3]);
});

test("the registry writes a Box whose bounds are all alike as Gymnasium's repr does, in float32's shortest digits", (t) => {
  const humanoid = listEnvs().find((e) => e.id === "Humanoid-v5");
  t.is(humanoid?.actionSpace, "Box(-0.4, 0.4, (17,))");
  t.is(describeSpace(box([-1, 0], [1, 0.25], [2])), "Box([-1, 0], [1, 0.25], (2,))");
  t.is(describeSpace(box([-Infinity], [Infinity], [1])), "Box(-inf, inf, (1,))");
});

test("an unknown id is an EnvError that lists the known ids", (t) => {
  const err = t.throws(() => makeEnv("CartPole-v9"), { instanceOf: EnvError });
  t.is(err.code, "UNKNOWN_ENV");
  for (const id of IDS) t.true(err.message.includes(id), `message lists ${id}`);
  t.true(isEnvId("Pendulum-v1"));
  t.false(isEnvId("Pendulum-v0"));
  t.false(isEnvId("toString"));
});

test("maxEpisodeSteps can be overridden and must be a positive integer", (t) => {
  t.is(makeEnv("CartPole-v1", { maxEpisodeSteps: 7 }).maxEpisodeSteps, 7);
  for (const bad of [0, -1, 2.5, Number.NaN]) {
    const err = t.throws(() => makeEnv("CartPole-v1", { maxEpisodeSteps: bad }), { instanceOf: EnvError });
    t.is(err.code, "INVALID_OPTION");
  }
});

// ---- spaces ----

test("Discrete and Box membership follow Gymnasium's contains()", (t) => {
  const d = discrete(3);
  t.true(contains(d, 0) && contains(d, 2));
  for (const bad of [3, -1, 1.5, Number.NaN, "1", [1], null]) t.false(contains(d, bad), String(bad));
  const b = box(-1, 1, [2]);
  t.true(contains(b, [1, -1]));
  t.true(contains(b, Float32Array.of(0.5, 0)));
  t.false(contains(b, [1.5, 0]));
  t.false(contains(b, [Number.NaN, 0]));
  t.false(contains(b, [0]));
  t.false(contains(b, 0));
  t.is(flatDim(d), 3);
  t.is(flatDim(b), 2);
  t.throws(() => box([1], [0]), { instanceOf: RangeError });
  t.throws(() => discrete(0), { instanceOf: RangeError });
});

test("space samples are members of the space, for bounded and unbounded boxes", (t) => {
  const rng = new Rng(1);
  const spaces = [discrete(5), box(-2, 2, [3]), box([-Infinity, 0, -Infinity], [Infinity, Infinity, 1])];
  for (const space of spaces) {
    for (let i = 0; i < 500; i++) {
      const s = sample(space, rng);
      t.true(contains(space, s), `${JSON.stringify(space)} sample ${s}`);
    }
  }
});

// ---- properties of every env ----

for (const id of IDS) {
  test(`${id}: observations stay within observationSpace over seeded random episodes`, (t) => {
    const env = makeEnv(id);
    const { low, high } = env.observationSpace;
    const { observations } = rollout(id, 3, 6);
    let outside = 0;
    for (const obs of observations) {
      t.is(obs.length, low.length);
      for (let i = 0; i < obs.length; i++) if (!(obs[i] >= low[i] && obs[i] <= high[i])) outside++;
    }
    t.is(outside, 0);
    t.true(observations.length > 50);
  });

  test(`${id}: the same seed gives identical episodes, another seed does not`, (t) => {
    const a = rollout(id, 11, 3);
    const b = rollout(id, 11, 3);
    t.deepEqual(a, b);
    t.notDeepEqual(rollout(id, 12, 3).observations, a.observations);
  });

  test(`${id}: reset without a seed continues the env's stream`, (t) => {
    const a = makeEnv(id);
    const b = makeEnv(id);
    const first = a.reset({ seed: 5 }).observation;
    b.reset({ seed: 5 });
    const second = a.reset().observation;
    t.notDeepEqual(second, first);
    t.deepEqual(b.reset().observation, second);
    t.deepEqual(a.reset({ seed: 5 }).observation, first);
  });

  test(`${id}: stepping before the first reset and after the episode ends throws EnvError`, (t) => {
    const env = makeEnv(id, { maxEpisodeSteps: 2 });
    const action = env.actionSpace.kind === "discrete" ? 0 : [0];
    const early = t.throws(() => env.step(action), { instanceOf: EnvError });
    t.is(early.code, "RESET_NEEDED");
    env.reset({ seed: 0 });
    env.step(action);
    const last = env.step(action);
    t.true(last.truncated);
    const late = t.throws(() => env.step(action), { instanceOf: EnvError });
    t.is(late.code, "EPISODE_FINISHED");
    env.reset();
    t.notThrows(() => env.step(action));
  });

  test(`${id}: truncated becomes true exactly when the step count reaches the registered limit`, (t) => {
    const env = makeEnv(id);
    // From a written quiet state with a do-nothing-ish action, none of these envs terminates early.
    env.reset({ seed: 0 });
    const quiet: Record<string, { state: number[]; action: number | number[] }> = {
      "CartPole-v0": { state: [0, 0, 0, 0], action: 0 },
      "CartPole-v1": { state: [0, 0, 0, 0], action: 0 },
      "Acrobot-v1": { state: [0, 0, 0, 0], action: 1 },
      "MountainCar-v0": { state: [-0.5, 0], action: 1 },
      "MountainCarContinuous-v0": { state: [-0.5, 0], action: [0] },
      "Pendulum-v1": { state: [1, 0], action: [0] },
    };
    const { state, action } = quiet[id];
    if (id.startsWith("CartPole")) {
      // CartPole cannot stand still under a constant push; alternate to keep it up.
      env.state = state;
      let k = 0;
      for (; k < env.maxEpisodeSteps - 1; k++) {
        const r = env.step(env.state[2] + 0.5 * env.state[3] > 0 ? 1 : 0);
        t.false(r.terminated || r.truncated, `step ${k + 1}`);
      }
      t.true(env.step(env.state[2] + 0.5 * env.state[3] > 0 ? 1 : 0).truncated);
      return;
    }
    env.state = state;
    for (let k = 1; k < env.maxEpisodeSteps; k++) {
      const r = env.step(action);
      if (r.terminated || r.truncated) t.fail(`episode ended at step ${k}`);
    }
    const r = env.step(action);
    t.true(r.truncated);
    t.false(r.terminated);
    t.is(env.elapsedSteps, env.maxEpisodeSteps);
  });

  test(`${id}: invalid actions throw EnvError with code INVALID_ACTION`, (t) => {
    const env = makeEnv(id);
    env.reset({ seed: 0 });
    const space = env.actionSpace;
    const bad: unknown[] =
      space.kind === "discrete"
        ? [space.n, -1, 0.5, Number.NaN, "0", [0], Float32Array.of(0), null, undefined, true]
        : [
            0,
            "0",
            [],
            [0, 0],
            Float32Array.of(Number.NaN),
            [Number.NaN],
            [Number.POSITIVE_INFINITY],
            ["0"],
            null,
          ];
    for (const action of bad) {
      const err = t.throws(() => env.step(action as number), { instanceOf: EnvError }, String(action));
      t.is(err?.code, "INVALID_ACTION");
    }
    // A rejected action leaves the episode untouched.
    t.is(env.elapsedSteps, 0);
    t.notThrows(() => env.step(space.kind === "discrete" ? 0 : [0]));
  });

  test(`${id}: a written state that yields NaN raises NAN_OBSERVATION, then requires reset`, (t) => {
    const env = makeEnv(id);
    env.reset({ seed: 0 });
    const s = Array.from(env.state);
    s[0] = Number.NaN;
    env.state = s;
    const action = env.actionSpace.kind === "discrete" ? 0 : [0];
    const err = t.throws(() => env.step(action), { instanceOf: EnvError });
    t.is(err.code, "NAN_OBSERVATION");
    t.is(t.throws(() => env.step(action), { instanceOf: EnvError }).code, "RESET_NEEDED");
    env.reset();
    t.notThrows(() => env.step(action));
  });

  test(`${id}: state is validated on write and is live on read`, (t) => {
    const env = makeEnv(id);
    env.reset({ seed: 0 });
    const n = env.state.length;
    t.is(
      t.throws(() => (env.state = new Float64Array(n + 1)), { instanceOf: EnvError }).code,
      "INVALID_STATE",
    );
    const live = env.state;
    env.step(env.actionSpace.kind === "discrete" ? 1 : [0.5]);
    t.is(env.state, live);
  });
}

// ---- reset distributions (Gymnasium's documented ranges) ----

function resetStates(id: string, n: number): Float64Array[] {
  const env = makeEnv(id);
  const out: Float64Array[] = [];
  env.reset({ seed: 99 });
  for (let i = 0; i < n; i++) {
    out.push(env.state.slice());
    env.reset();
  }
  return out;
}

test("CartPole resets every state value from U(-0.05, 0.05)", (t) => {
  const states = resetStates("CartPole-v1", 2000);
  for (let i = 0; i < 4; i++) {
    const v = states.map((s) => s[i]);
    t.true(v.every((x) => x >= -0.05 && x < 0.05));
    t.true(Math.min(...v) < -0.049 && Math.max(...v) > 0.049, "covers the range");
  }
});

test("Acrobot resets from U(-0.1, 0.1) rounded to float32", (t) => {
  const states = resetStates("Acrobot-v1", 2000);
  for (const s of states) {
    for (const x of s) t.true(x >= -0.1 && x <= 0.1 && Math.fround(x) === x);
  }
  const first = states.map((s) => s[0]);
  t.true(Math.min(...first) < -0.099 && Math.max(...first) > 0.099);
});

for (const id of ["MountainCar-v0", "MountainCarContinuous-v0"]) {
  test(`${id} resets position from U(-0.6, -0.4) with zero velocity`, (t) => {
    const states = resetStates(id, 2000);
    t.true(states.every((s) => s[0] >= -0.6 && s[0] < -0.4 && s[1] === 0));
    const p = states.map((s) => s[0]);
    t.true(Math.min(...p) < -0.599 && Math.max(...p) > -0.401);
  });
}

test("Pendulum resets theta from U(-pi, pi) and theta_dot from U(-1, 1)", (t) => {
  const states = resetStates("Pendulum-v1", 2000);
  t.true(states.every((s) => s[0] >= -Math.PI && s[0] < Math.PI && s[1] >= -1 && s[1] < 1));
  const th = states.map((s) => s[0]);
  t.true(Math.min(...th) < -3.1 && Math.max(...th) > 3.1);
});

// ---- edge rules not covered by the reference transitions ----

test("CartPole: terminated and truncated can both be true on the same step", (t) => {
  const env = makeEnv("CartPole-v1", { maxEpisodeSteps: 1 });
  env.reset({ seed: 0 });
  env.state = [2.39, 1, 0, 0];
  const r = env.step(1);
  t.true(r.terminated);
  t.true(r.truncated);
  t.is(r.reward, 1);
});

test("Acrobot: an infinite written angle is reported as NaN instead of looping forever", (t) => {
  const env = makeEnv("Acrobot-v1");
  env.reset({ seed: 0 });
  env.state = [Number.POSITIVE_INFINITY, 0, 0, 0];
  t.is(t.throws(() => env.step(1), { instanceOf: EnvError }).code, "NAN_OBSERVATION");
});

test("Pendulum: the cost of theta = -3.5 uses the angle wrapped to 2*pi - 3.5", (t) => {
  const env = makeEnv("Pendulum-v1");
  env.reset({ seed: 0 });
  env.state = [-3.5, 0];
  const wrapped = 2 * Math.PI - 3.5;
  t.true(Math.abs(env.step([0]).reward + wrapped * wrapped) < 1e-12);
});

test("MountainCarContinuous: an action beyond the bounds moves like the bound but costs its own square", (t) => {
  const a = makeEnv("MountainCarContinuous-v0");
  const b = makeEnv("MountainCarContinuous-v0");
  a.reset({ seed: 0 });
  b.reset({ seed: 0 });
  const ra = a.step(Float32Array.of(4));
  const rb = b.step(Float32Array.of(1));
  t.deepEqual(ra.observation, rb.observation);
  t.true(Math.abs(ra.reward - -1.6) < 1e-12);
  t.true(Math.abs(rb.reward - -0.1) < 1e-12);
});
