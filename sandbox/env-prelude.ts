/**
 * The in-isolate harness of an env session, composed with the base prelude of `prelude.ts` (seeded
 * `Math.random`, frozen `Date`, captured console, no SharedArrayBuffer/Atomics/WebAssembly). The
 * child process calls it synchronously by Reference, once per crossing: it loops over the N env
 * instances inside the isolate and packs every number of the crossing into one Float64Array that
 * leaves by copy, so that a vector step costs one call whatever N is.
 *
 * It checks types where only the isolate can see them (a boolean is not 1, a string is not a number)
 * and names the failing env and method; the child re-checks everything it receives (counts,
 * finiteness, flags), since submitted code can tamper with the harness's built-ins to spoil its own
 * results. Failures come back as `{ error: { kind, message, stack } }` instead of the usual value.
 */
import { type BasePreludeConfig, composePrelude } from "./prelude.ts";

export interface EnvPreludeConfig extends BasePreludeConfig {
  numEnvs: number;
  maxBoxSize: number;
  maxStateBytes: number;
}

/**
 * What the harness says about one env instance, as plain data: primitives are tagged
 * (`{ number }`, `{ string }` or `{ type }`), number lists keep every value (±Infinity and NaN
 * included) in a Float64Array with the first non-number noted in `bad`.
 */
export type WireValue = { number: number } | { string: string } | { type: string };
export type WireList =
  | { type: "array"; length: number; values?: Float64Array; bad?: { index: number; type: string } }
  | { type: string };
export type WireSpace =
  | { type: "object"; kind: WireValue; n: WireValue; low: WireList; high: WireList }
  | { type: string };
export type WireEnvDescription =
  | {
      type: "object";
      reset: string;
      step: string;
      getState: string;
      setState: string;
      observationSpace: WireSpace;
      actionSpace: WireSpace;
      maxEpisodeSteps: WireValue;
    }
  | { type: string };

/**
 * The description of instance 0 and, when some other instance declares something else, of the
 * first such instance (`indices` says which). The host checks both and names the difference.
 */
export interface WireOpenResult {
  descriptions: WireEnvDescription[];
  indices: number[];
}

export interface WireHarnessFailure {
  error: { kind: "runtime" | "result"; message: string; stack?: string };
}

/**
 * Layout of the packed arrays (all Float64):
 * - reset: observations (N × obsDim), then the console flag;
 * - step input: actions (N × actDim), then N time-limit flags (1 where this step reaches the limit);
 * - step output: observations after autoreset (N × obsDim), final observations (N × obsDim, only
 *   rows that finished are written), rewards (N), terminated (N), truncated as the env said (N), then
 *   the console flag.
 * The console flag is the number of characters of console output waiting to be drained (0: no call).
 */
export function stepOutputLength(numEnvs: number, obsDim: number): number {
  return 2 * numEnvs * obsDim + 3 * numEnvs + 1;
}

// A String.raw, as the base part, so that an escape written here reaches the isolate as written.
const ENV_HARNESS = String.raw`function (config, base) {
  "use strict";
  const { ReflectApply, defineProperty, freeze, stringify, parse, isView, DataViewCtor, sliceString } = base;
  const { describeError, jsonReplacer, pendingConsole } = base;
  const ObjectKeys = Object.keys;
  const isArray = Array.isArray;
  const ArrayCtor = Array;
  const F64 = Float64Array;
  const arraySlice = Array.prototype.slice;
  const N = config.numEnvs;
  const MAX_BOX = config.maxBoxSize;
  const MAX_STATE = config.maxStateBytes;
  const SYNC = ": createEnv() and the env's methods must be synchronous (no async functions, no promises)";

  // Own properties are defined, never assigned: an assignment would run setters that the submission
  // may have put on Array.prototype.
  function put(array, index, value) {
    defineProperty(array, index, { value, writable: true, enumerable: true, configurable: true });
  }

  const envs = new ArrayCtor(N);
  let discrete = true;
  let obsDim = 0;
  let actDim = 0;
  let resetOut = new F64(1);
  let stepOut = new F64(1);
  // What runs now, for the host's message when a crossing is cut: 0 top level, 1 createEnv,
  // 2 reset, 3 step, 4 autoreset, 5 getState, 6 setState.
  let phase = 0;
  let current = 0;

  function typeName(v) {
    if (v === null) return "null";
    if (v === undefined) return "undefined";
    if (isArray(v)) return "an array";
    const t = typeof v;
    if (t === "object") return isView(v) ? "a typed array" : "an object";
    return "a " + t;
  }

  function isThenable(v) {
    return ((typeof v === "object" && v !== null) || typeof v === "function") && typeof v.then === "function";
  }

  function fail(kind, message) {
    return { error: { kind, message } };
  }

  function threw(label, error) {
    const described = describeError(error);
    return { error: { kind: "runtime", message: label + " threw " + described.text, stack: described.stack } };
  }

  function value(v) {
    if (typeof v === "number") return { number: v };
    if (typeof v === "string") return { string: ReflectApply(sliceString, v, [0, 100]) };
    return { type: typeName(v) };
  }

  function list(v) {
    if (!(isArray(v) || (isView(v) && !(v instanceof DataViewCtor)))) return { type: typeName(v) };
    const length = v.length;
    if (typeof length !== "number" || length > MAX_BOX) return { type: "array", length };
    const values = new F64(length);
    let bad;
    for (let i = 0; i < length; i++) {
      const x = v[i];
      if (typeof x === "number") values[i] = x;
      else {
        values[i] = NaN;
        if (bad === undefined) bad = { index: i, type: typeName(x) };
      }
    }
    return bad === undefined ? { type: "array", length, values } : { type: "array", length, values, bad };
  }

  function space(s) {
    if (typeof s !== "object" || s === null || isArray(s)) return { type: typeName(s) };
    return { type: "object", kind: value(s.kind), n: value(s.n), low: list(s.low), high: list(s.high) };
  }

  function describeEnv(env) {
    if (typeof env !== "object" || env === null || isArray(env)) return { type: typeName(env) };
    return {
      type: "object",
      reset: typeof env.reset,
      step: typeof env.step,
      getState: typeof env.getState,
      setState: typeof env.setState,
      observationSpace: space(env.observationSpace),
      actionSpace: space(env.actionSpace),
      maxEpisodeSteps: value(env.maxEpisodeSteps),
    };
  }

  // Equality of two descriptions (plain data built above); 0 and -0 are the same bound.
  function same(a, b) {
    if (a === b) return true;
    if (typeof a === "number" && typeof b === "number") return a !== a && b !== b;
    if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
    if (isView(a) || isView(b)) {
      if (!isView(a) || !isView(b) || a.length !== b.length) return false;
      for (let i = 0; i < a.length; i++) if (!same(a[i], b[i])) return false;
      return true;
    }
    const ka = ObjectKeys(a);
    const kb = ObjectKeys(b);
    if (ka.length !== kb.length) return false;
    for (let i = 0; i < ka.length; i++) if (!same(a[ka[i]], b[ka[i]])) return false;
    return true;
  }

  function open(exportsMap) {
    phase = 1;
    const createEnv = exportsMap.createEnv;
    if (typeof createEnv !== "function") {
      return fail("runtime", "the submission declares no top-level function createEnv()");
    }
    let first;
    for (let i = 0; i < N; i++) {
      current = i;
      const label = i === 0 ? "createEnv()" : "createEnv() call " + i;
      let env;
      let description;
      try {
        env = ReflectApply(createEnv, undefined, []);
        if (isThenable(env)) return fail("result", label + " returned a promise" + SYNC);
        for (let j = 0; j < i; j++) {
          if (envs[j] === env) {
            return fail("result", label + " returned the same object as call " + j + ": each call must return a fresh, independent env");
          }
        }
        description = describeEnv(env);
      } catch (error) {
        return threw(label, error);
      }
      put(envs, i, env);
      if (i === 0) first = description;
      else if (!same(first, description)) return { descriptions: [first, description], indices: [0, i] };
    }
    return { descriptions: [first], indices: [0] };
  }

  function configure(isDiscrete, observationDim, actionDim) {
    discrete = isDiscrete;
    obsDim = observationDim;
    actDim = actionDim;
    resetOut = new F64(N * obsDim + 1);
    stepOut = new F64(2 * N * obsDim + 3 * N + 1);
  }

  // Copies an observation into out[offset…]; answers what is wrong with it, or undefined.
  function writeObservation(obs, out, offset, label) {
    if (!(isArray(obs) || (isView(obs) && !(obs instanceof DataViewCtor)))) {
      return label + " an observation that is " + typeName(obs) + ", not an array of numbers";
    }
    const length = obs.length;
    if (length !== obsDim) {
      return label + " an observation of " + length + " values; the observationSpace has " + obsDim;
    }
    for (let j = 0; j < obsDim; j++) {
      const x = obs[j];
      if (typeof x !== "number") return label + " an observation whose value " + j + " is " + typeName(x) + ", not a number";
      out[offset + j] = x;
    }
    return undefined;
  }

  function resetOne(i, seed, out, offset, label) {
    const env = envs[i];
    const fn = env.reset;
    if (typeof fn !== "function") return fail("result", label + ": the env's reset is no longer a function");
    const obs = ReflectApply(fn, env, [seed]);
    if (isThenable(obs)) return fail("result", label + " returned a promise" + SYNC);
    const problem = writeObservation(obs, out, offset, label + " returned");
    return problem === undefined ? undefined : fail("result", problem);
  }

  function reset(seeds) {
    phase = 2;
    const out = resetOut;
    for (let i = 0; i < N; i++) {
      current = i;
      const s = seeds[i];
      const label = "reset() of env " + i;
      try {
        const failure = resetOne(i, s === s ? s : undefined, out, i * obsDim, label);
        if (failure !== undefined) return failure;
      } catch (error) {
        return threw(label, error);
      }
    }
    out[N * obsDim] = pendingConsole();
    return out;
  }

  function step(input) {
    const out = stepOut;
    const D = obsDim;
    const finalBase = N * D;
    const rewardBase = 2 * N * D;
    const terminatedBase = rewardBase + N;
    const truncatedBase = terminatedBase + N;
    const limitBase = N * actDim;
    for (let i = 0; i < N; i++) {
      current = i;
      phase = 3;
      try {
        const env = envs[i];
        const fn = env.step;
        if (typeof fn !== "function") return fail("result", "step() of env " + i + ": the env's step is no longer a function");
        const action = discrete ? input[i] : ReflectApply(arraySlice, input, [i * actDim, (i + 1) * actDim]);
        const r = ReflectApply(fn, env, [action]);
        if (typeof r !== "object" || r === null || isArray(r)) {
          return fail("result", "step() of env " + i + " returned " + typeName(r) + ", not { observation, reward, terminated, truncated }");
        }
        if (isThenable(r)) return fail("result", "step() of env " + i + " returned a promise" + SYNC);
        const problem = writeObservation(r.observation, out, i * D, "step() of env " + i + " returned");
        if (problem !== undefined) return fail("result", problem);
        const reward = r.reward;
        const terminated = r.terminated;
        const truncated = r.truncated;
        if (typeof reward !== "number") {
          return fail("result", "step() of env " + i + " returned a reward that is " + typeName(reward) + ", not a number");
        }
        if (typeof terminated !== "boolean") {
          return fail("result", "step() of env " + i + " returned terminated " + typeName(terminated) + ", not a boolean");
        }
        if (truncated !== undefined && typeof truncated !== "boolean") {
          return fail("result", "step() of env " + i + " returned truncated " + typeName(truncated) + ", not a boolean (or undefined)");
        }
        out[rewardBase + i] = reward;
        out[terminatedBase + i] = terminated ? 1 : 0;
        out[truncatedBase + i] = truncated ? 1 : 0;
        if (terminated || truncated || input[limitBase + i] === 1) {
          const row = i * D;
          for (let j = 0; j < D; j++) out[finalBase + row + j] = out[row + j];
          phase = 4;
          const failure = resetOne(i, undefined, out, row, "reset() of env " + i + " (autoreset)");
          if (failure !== undefined) return failure;
        }
      } catch (error) {
        return threw(phase === 4 ? "reset() of env " + i + " (autoreset)" : "step() of env " + i, error);
      }
    }
    out[out.length - 1] = pendingConsole();
    return out;
  }

  function getStates() {
    phase = 5;
    let json = "[";
    for (let i = 0; i < N; i++) {
      current = i;
      const label = "getState() of env " + i;
      let state;
      let part;
      try {
        const env = envs[i];
        const fn = env.getState;
        if (typeof fn !== "function") return fail("result", label + ": the env's getState is no longer a function");
        state = ReflectApply(fn, env, []);
        if (isThenable(state)) return fail("result", label + " returned a promise" + SYNC);
        part = stringify(state, jsonReplacer);
      } catch (error) {
        return threw(label, error);
      }
      if (typeof part !== "string") return fail("result", label + " returned " + typeName(state) + ", not JSON data");
      json += (i === 0 ? "" : ",") + part;
      if (json.length > MAX_STATE) return fail("result", "the states of the envs take more than " + MAX_STATE + " bytes as JSON");
    }
    return json + "]";
  }

  function setStates(json) {
    phase = 6;
    const states = parse(json);
    for (let i = 0; i < N; i++) {
      current = i;
      const label = "setState() of env " + i;
      try {
        const env = envs[i];
        const fn = env.setState;
        if (typeof fn !== "function") return fail("result", label + ": the env's setState is no longer a function");
        const r = ReflectApply(fn, env, [states[i]]);
        if (isThenable(r)) return fail("result", label + " returned a promise" + SYNC);
      } catch (error) {
        return threw(label, error);
      }
    }
    return true;
  }

  function where() {
    switch (phase) {
      case 1: return current === 0 ? "createEnv()" : "createEnv() call " + current;
      case 2: return "reset() of env " + current;
      case 3: return "step() of env " + current;
      case 4: return "reset() of env " + current + " (autoreset)";
      case 5: return "getState() of env " + current;
      case 6: return "setState() of env " + current;
      default: return "the top level of the script";
    }
  }

  return freeze({ open, configure, reset, step, getStates, setStates, where, drainConsole: base.drainConsole });
}`;

/** Source of the env-session prelude; its completion value is the harness. */
export function envPreludeSource(config: EnvPreludeConfig): string {
  return composePrelude(config, ENV_HARNESS);
}
