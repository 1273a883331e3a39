/**
 * The MuJoCo envs' fidelity suite against Python Gymnasium 1.3 + `mujoco` themselves, shared by
 * test/rl/envs-mujoco.test.ts and test/rl/envs-mujoco-more.test.ts: every reference number was recorded
 * from the real library by scripts/reference/record_mujoco.py (test/rl/fixtures/reference/mujoco/),
 * never transcribed from its code.
 *
 * For one env, `fidelityTests` registers:
 * - the registry's facts (frame skip, dt, sizes, action bounds, TimeLimit, reward_threshold) are
 *   Gymnasium's, and the spaces declared for listing are those the compiled model gives;
 * - a seeded reset gives Gymnasium's qpos and qvel exactly, its observation to float32, its info;
 * - single steps from recorded (qpos, qvel) and actions: observations within `obsTolerance`
 *   (|a−b| ≤ tol·max(1,|b|)), rewards and every info term within `rewardTolerance`, both 1e-6 unless
 *   the env's tests say why not; flags equal;
 * - whole seeded episodes under the recorded action sequences stay within 1e-4 (a "chaotic" one for its
 *   first 50 steps, logged beyond); the test logs how many steps do and the largest deviation.
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import test from "ava";
import type { Action } from "../../rl/core/types.ts";
import { builtinSpaces, listEnvs, type MujocoEnv, makeEnv } from "../../rl/envs/index.ts";

/** An info value: a number, or an array of them (Humanoid's tendon lengths and velocities). */
export type InfoValue = number | number[];

export interface RecordedStep {
  policy: string;
  qpos: number[];
  qvel: number[];
  action: number[];
  actionKind: "float32" | "float64" | "list";
  obs: number[];
  reward: number;
  info: Record<string, InfoValue>;
  terminated: boolean;
  truncated: boolean;
  qposAfter: number[];
  qvelAfter: number[];
}

export interface RecordedEpisode {
  policy: string;
  seed: number;
  initialObs: number[];
  actions: number[][];
  obs: number[][];
  rewards: number[];
  terminated: boolean;
  truncated: boolean;
  /** Through dynamics that amplify the engines' solver-tolerance differences: agreement is reported, not required throughout. */
  chaotic: boolean;
  /** The TimeLimit it was recorded under, when not the registered one (Reacher's 50 is too short). */
  maxEpisodeSteps?: number;
}

export interface Reference {
  envId: string;
  frameSkip: number;
  dt: number;
  nq: number;
  nv: number;
  observationDim: number;
  actionLow: number[];
  actionHigh: number[];
  maxEpisodeSteps: number;
  rewardThreshold: number | null;
  resets: { seed: number; qpos: number[]; qvel: number[]; obs: number[]; info: Record<string, InfoValue> }[];
  steps: RecordedStep[];
  episodes: RecordedEpisode[];
}

export function load(envId: string): Reference {
  const url = new URL(`../rl/fixtures/reference/mujoco/${envId}.json.gz`, import.meta.url);
  return JSON.parse(gunzipSync(readFileSync(url)).toString("utf8")) as Reference;
}

/** |a − b| ≤ tol · max(1, |b|). */
export function close(a: number, b: number, tol: number): boolean {
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
}

/** The largest |a − b| / max(1, |b|) over the elements (∞ for a NaN). */
export function deviation(a: ArrayLike<number>, b: readonly number[]): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) {
    const err = Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i]));
    worst = Number.isNaN(err) ? Number.POSITIVE_INFINITY : Math.max(worst, err);
  }
  return worst;
}

/** The deviation of an info value from the recorded one (∞ when their shapes differ). */
function infoDeviation(got: unknown, want: InfoValue): number {
  if (typeof want === "number")
    return typeof got === "number" ? deviation([got], [want]) : Number.POSITIVE_INFINITY;
  if (!Array.isArray(got) || got.length !== want.length) return Number.POSITIVE_INFINITY;
  return deviation(got as number[], want);
}

/** The action as Gymnasium received it: np.float32 / np.float64 arrays, or a list of Python floats. */
export function actionOf(a: number[], kind: RecordedStep["actionKind"]): Action {
  if (kind === "float64") return Float64Array.from(a);
  if (kind === "list") return [...a];
  return Float32Array.from(a);
}

export function mujocoEnv(id: string, maxEpisodeSteps?: number): MujocoEnv {
  return makeEnv(id, maxEpisodeSteps === undefined ? {} : { maxEpisodeSteps }) as MujocoEnv;
}

export interface FidelityOptions {
  /**
   * The single steps' observation tolerance (relative, as `close`), 1e-6 unless an env's engine
   * difference is understood and said where the env's tests call this.
   */
  obsTolerance?: number;
  /** The single steps' reward and info tolerance (relative), 1e-6 unless said likewise. */
  rewardTolerance?: number;
  /**
   * When set, each episode must agree (1e-4) for at least this many steps from its start, and is
   * logged beyond, instead of throughout: for an env whose engines differ in a way the env cannot
   * undo, said where its tests call this.
   */
  episodeAgreement?: number;
}

/** Registers the fidelity tests of one env against its recorded reference (see the header). */
export function fidelityTests(envId: string, options: FidelityOptions = {}): void {
  const ref = load(envId);
  const obsTolerance = options.obsTolerance ?? 1e-6;
  const rewardTolerance = options.rewardTolerance ?? 1e-6;
  const { episodeAgreement } = options;

  test(`${envId}: frame skip, dt, sizes, action bounds, TimeLimit and threshold are Gymnasium's`, (t) => {
    const env = mujocoEnv(envId);
    t.is(env.frameSkip, ref.frameSkip);
    t.is(env.dt, ref.dt);
    t.is(env.nq, ref.nq);
    t.is(env.nv, ref.nv);
    t.is(env.observationDim, ref.observationDim);
    t.deepEqual(Array.from(env.actionSpace.low), ref.actionLow);
    t.deepEqual(Array.from(env.actionSpace.high), ref.actionHigh);
    t.is(env.maxEpisodeSteps, ref.maxEpisodeSteps);
    t.is(env.rewardThreshold, ref.rewardThreshold ?? undefined);
    // What listing declares without the engine is what the compiled model gives.
    const declared = builtinSpaces(envId);
    t.deepEqual(declared.observationSpace, env.observationSpace);
    t.deepEqual(declared.actionSpace, env.actionSpace);
    const listed = listEnvs().find((e) => e.id === envId);
    t.deepEqual(listed?.observationShape, [ref.observationDim]);
    env.close();
  });

  test(`${envId}: a seeded reset gives Gymnasium's qpos and qvel exactly, its observation and info`, (t) => {
    const env = mujocoEnv(envId);
    for (const r of ref.resets) {
      const { observation, info } = env.reset({ seed: r.seed });
      t.deepEqual(Array.from(env.state), [...r.qpos, ...r.qvel], `seed ${r.seed}`);
      t.deepEqual(Array.from(observation), r.obs.map(Math.fround), `seed ${r.seed}`);
      t.deepEqual(info, r.info);
    }
    env.close();
  });

  test(`${envId}: single steps from recorded states match Gymnasium (obs ${obsTolerance}, reward and info ${rewardTolerance}; flags equal)`, (t) => {
    const env = mujocoEnv(envId);
    let worstObs = 0;
    let worstReward = 0;
    let worstState = 0;
    for (const [i, s] of ref.steps.entries()) {
      const where = `step ${i} (${s.policy}, ${s.actionKind})`;
      env.reset({ seed: 0 });
      env.state = [...s.qpos, ...s.qvel];
      const r = env.step(actionOf(s.action, s.actionKind));
      worstObs = Math.max(worstObs, deviation(r.observation, s.obs));
      worstReward = Math.max(worstReward, deviation([r.reward], [s.reward]));
      worstState = Math.max(worstState, deviation(env.state, [...s.qposAfter, ...s.qvelAfter]));
      t.true(
        s.obs.every((v, k) => close(r.observation[k], v, obsTolerance)),
        `${where}: observation ${deviation(r.observation, s.obs)} off`,
      );
      t.true(close(r.reward, s.reward, rewardTolerance), `${where}: reward ${r.reward} vs ${s.reward}`);
      t.is(r.terminated, s.terminated, where);
      t.is(r.truncated, s.truncated, where);
      t.deepEqual(Object.keys(r.info).sort(), Object.keys(s.info).sort(), where);
      for (const [key, want] of Object.entries(s.info)) {
        t.true(
          infoDeviation(r.info[key], want) <= rewardTolerance,
          `${where}: info.${key} ${r.info[key]} vs ${want}`,
        );
      }
    }
    t.log(
      `${ref.steps.length} steps: max relative deviation obs ${worstObs.toExponential(2)} (float32), reward ${worstReward.toExponential(2)}, state after ${worstState.toExponential(2)}`,
    );
    env.close();
  });

  for (const [e, episode] of ref.episodes.entries()) {
    const n = episode.actions.length;
    const required = episodeAgreement ?? (episode.chaotic ? 50 : n);
    const partly =
      required < n
        ? ` for its first ${required} steps (${episode.chaotic ? "chaotic" : "see the env's tests"}: logged)`
        : "";
    test(`${envId}: episode ${e} (${episode.policy}, ${n} steps from reset(seed=${episode.seed})) stays within 1e-4${partly}`, (t) => {
      const env = mujocoEnv(envId, episode.maxEpisodeSteps);
      const { observation } = env.reset({ seed: episode.seed });
      t.deepEqual(Array.from(observation), episode.initialObs.map(Math.fround));
      // Steps from the start until the first one past 1e-4 (obs or reward), and the largest deviation then.
      let agreeing = 0;
      let worstAgreeing = 0;
      let worst = 0;
      let last = { terminated: false, truncated: false };
      for (const [k, action] of episode.actions.entries()) {
        const r = env.step(Float32Array.from(action));
        const err = Math.max(
          deviation(r.observation, episode.obs[k]),
          deviation([r.reward], [episode.rewards[k]]),
        );
        worst = Math.max(worst, err);
        if (agreeing === k && err <= 1e-4) {
          agreeing++;
          worstAgreeing = worst;
        }
        last = r;
        if (r.terminated || r.truncated) break;
      }
      t.log(
        `${agreeing}/${n} steps within 1e-4 (largest deviation over them ${worstAgreeing.toExponential(2)}; over the episode ${worst.toExponential(2)})`,
      );
      if (required < n) {
        t.true(agreeing >= required);
      } else {
        t.true(n >= 100);
        t.is(agreeing, n);
        t.is(last.terminated, episode.terminated);
        t.is(last.truncated, episode.truncated);
      }
      env.close();
    });
  }
}
