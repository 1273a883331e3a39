/**
 * Checks, outside the isolate, what `createEnv()` declared (as the harness copied it out, see
 * `env-prelude.ts`) and turns it into a `CustomEnvSpec`. Everything read here came from submitted
 * code, through a harness it could have tampered with: every field is treated as unknown.
 */
import { isDeepStrictEqual } from "node:util";
import type { CustomEnvSpec, JsonBox, JsonDiscrete } from "./env-types.ts";
import { MAX_BOX_SIZE, MAX_EPISODE_STEPS } from "./env-types.ts";

/** Thrown with a message for the learner: what is wrong, in the words of the contract. */
export class EnvSpecError extends Error {}

type Dict = Record<string, unknown>;

const isDict = (v: unknown): v is Dict => typeof v === "object" && v !== null && !Array.isArray(v);

/** The largest discrete `n`: actions travel as an Int32Array. */
const MAX_DISCRETE_N = 2 ** 31 - 1;

function typeOf(v: unknown): string {
  return isDict(v) && typeof v.type === "string" ? v.type.slice(0, 40) : "something unreadable";
}

function describeValue(v: unknown): string {
  if (!isDict(v)) return "something unreadable";
  if (typeof v.number === "number") return String(v.number);
  if (typeof v.string === "string") return JSON.stringify(v.string);
  return typeOf(v);
}

function numberList(
  raw: unknown,
  label: string,
  bound: "low" | "high",
  fix: string,
): { values: Float64Array; length: number } {
  const where = `${label} whose ${bound}`;
  if (!isDict(raw) || raw.type !== "array") throw new EnvSpecError(`${where} is ${typeOf(raw)}, ${fix}`);
  const length = raw.length;
  if (typeof length !== "number" || !Number.isInteger(length) || length < 0)
    throw new EnvSpecError(`${where} has no readable length, ${fix}`);
  if (length > MAX_BOX_SIZE)
    throw new EnvSpecError(`${where} has ${length} values (at most ${MAX_BOX_SIZE})`);
  if (length === 0) throw new EnvSpecError(`${where} is empty: a box needs at least one dimension`);
  const values = raw.values;
  if (!(values instanceof Float64Array) || values.length !== length)
    throw new EnvSpecError(`${where} could not be read, ${fix}`);
  if (isDict(raw.bad) && typeof raw.bad.index === "number")
    throw new EnvSpecError(
      `${where}[${raw.bad.index}] is ${String(raw.bad.type).slice(0, 40)}, not a number`,
    );
  for (let i = 0; i < length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) throw new EnvSpecError(`${where}[${i}] is NaN`);
    if (bound === "low" && v === Number.POSITIVE_INFINITY)
      throw new EnvSpecError(`${where}[${i}] is Infinity: a lower bound is a finite number or -Infinity`);
    if (bound === "high" && v === Number.NEGATIVE_INFINITY)
      throw new EnvSpecError(`${where}[${i}] is -Infinity: an upper bound is a finite number or Infinity`);
  }
  return { values, length };
}

function box(raw: Dict, label: string): JsonBox {
  const fix = "not an array of numbers";
  const low = numberList(raw.low, label, "low", fix);
  const high = numberList(raw.high, label, "high", fix);
  if (low.length !== high.length)
    throw new EnvSpecError(`${label} whose low has ${low.length} values and high ${high.length}`);
  for (let i = 0; i < low.length; i++) {
    if (low.values[i] > high.values[i])
      throw new EnvSpecError(
        `${label} whose low[${i}] (${low.values[i]}) is greater than high[${i}] (${high.values[i]})`,
      );
  }
  const json = (v: number) => (Number.isFinite(v) ? (Object.is(v, -0) ? 0 : v) : null);
  return {
    kind: "box",
    shape: [low.length],
    low: Array.from(low.values, json),
    high: Array.from(high.values, json),
  };
}

function kindOf(raw: Dict): unknown {
  return isDict(raw.kind) && typeof raw.kind.string === "string" ? raw.kind.string : undefined;
}

function observationSpace(raw: unknown, who: string): JsonBox {
  const label = `${who} an observationSpace`;
  const shape = 'not { kind: "box", low: [...], high: [...] }';
  if (!isDict(raw) || raw.type !== "object")
    throw new EnvSpecError(`${who} an env whose observationSpace is ${typeOf(raw)}, ${shape}`);
  const kind = kindOf(raw);
  if (kind !== "box")
    throw new EnvSpecError(
      `${label} of kind ${describeValue(raw.kind)}: observations are a box, { kind: "box", low: [...], high: [...] }`,
    );
  return box(raw, label);
}

function actionSpace(raw: unknown, who: string): JsonDiscrete | JsonBox {
  const label = `${who} an actionSpace`;
  const shapes = '{ kind: "discrete", n } or { kind: "box", low: [...], high: [...] }';
  if (!isDict(raw) || raw.type !== "object")
    throw new EnvSpecError(`${who} an env whose actionSpace is ${typeOf(raw)}, not ${shapes}`);
  const kind = kindOf(raw);
  if (kind === "box") return box(raw, label);
  if (kind !== "discrete")
    throw new EnvSpecError(`${label} of kind ${describeValue(raw.kind)}: use ${shapes}`);
  const n = isDict(raw.n) ? raw.n.number : undefined;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > MAX_DISCRETE_N)
    throw new EnvSpecError(
      `${label} whose n is ${describeValue(raw.n)}: a discrete space needs a positive integer n (at most ${MAX_DISCRETE_N})`,
    );
  return { kind: "discrete", n };
}

function method(description: Dict, name: string, who: string): "function" | "absent" {
  const type = description[name];
  if (type === "function") return "function";
  if (type === "undefined") return "absent";
  const article = type === "object" ? "an" : "a";
  throw new EnvSpecError(
    `${who} an env whose ${name} is ${typeof type === "string" ? `${article} ${type.slice(0, 20)}` : "unreadable"}, not a function`,
  );
}

/** The spec that one env description declares; throws `EnvSpecError` when it breaks the contract. */
export function specOf(raw: unknown, who: string): CustomEnvSpec {
  if (!isDict(raw) || raw.type !== "object")
    throw new EnvSpecError(`${who} ${typeOf(raw)}, not an env object`);
  for (const name of ["reset", "step"]) {
    if (method(raw, name, who) === "absent")
      throw new EnvSpecError(`${who} an env without a ${name}() method`);
  }
  const getState = method(raw, "getState", who);
  const setState = method(raw, "setState", who);
  if (getState !== setState) {
    const [has, lacks] = getState === "function" ? ["getState", "setState"] : ["setState", "getState"];
    throw new EnvSpecError(
      `${who} an env with ${has}() but no ${lacks}(): declare both (so that runs can resume exactly) or neither`,
    );
  }
  const steps = isDict(raw.maxEpisodeSteps) ? raw.maxEpisodeSteps.number : undefined;
  if (typeof steps !== "number" || !Number.isInteger(steps) || steps < 1 || steps > MAX_EPISODE_STEPS)
    throw new EnvSpecError(
      `${who} an env whose maxEpisodeSteps is ${describeValue(raw.maxEpisodeSteps)}: it must be a positive integer of at most ${MAX_EPISODE_STEPS}`,
    );
  return {
    observationSpace: observationSpace(raw.observationSpace, who),
    actionSpace: actionSpace(raw.actionSpace, who),
    maxEpisodeSteps: steps,
    stateful: getState === "function",
  };
}

const FIELDS: [keyof CustomEnvSpec, string][] = [
  ["observationSpace", "observationSpace"],
  ["actionSpace", "actionSpace"],
  ["maxEpisodeSteps", "maxEpisodeSteps"],
  ["stateful", "getState/setState"],
];

/**
 * The session's spec from the harness's open result: instance 0's description, and the first
 * instance that declares something else, if any (all instances must declare the same).
 */
export function sessionSpec(raw: unknown): CustomEnvSpec {
  if (!isDict(raw) || !Array.isArray(raw.descriptions) || !Array.isArray(raw.indices))
    throw new EnvSpecError("the sandbox harness returned no description of the envs");
  const spec = specOf(raw.descriptions[0], "createEnv() returned");
  if (raw.descriptions.length < 2) return spec;
  const index = Number(raw.indices[1]);
  const who = `createEnv() call ${index} returned`;
  const other = specOf(raw.descriptions[1], who);
  const field = FIELDS.find(([key]) => !isDeepStrictEqual(spec[key], other[key]));
  throw new EnvSpecError(
    `${who} an env whose ${field ? field[1] : "declaration"} differs from that of call 0: every instance must declare the same spaces and maxEpisodeSteps`,
  );
}
