/**
 * The JavaScript that runs first in every fresh isolate, before the submitted code. Its base part
 * makes the isolate deterministic (seeded `Math.random`, frozen `Date`), deletes the globals that
 * could block the isolate's thread, and captures `console` into a capped buffer that lives inside the
 * isolate; then it hands those tools to a harness (the job harness here, the env-session harness in
 * `env-prelude.ts`), whose object goes back to the host only (as an isolated-vm Reference held by the
 * child process): nothing of the host is ever placed inside.
 *
 * It is plain JavaScript in a string, not a TypeScript function passed through `toString()`, so
 * that no transpiler helper can slip into code that runs where those helpers do not exist.
 * The harness is a convenience, not a security boundary: submitted code can tamper with it only
 * to spoil its own results, and the host re-checks every size it receives.
 */

export const PRELUDE_FILENAME = "sandbox-prelude.js";
export const SUBMISSION_FILENAME = "submission.js";

/** What the base part of every prelude reads from its config. */
export interface BasePreludeConfig {
  seed: number;
  now: number;
  maxConsoleBytes: number;
}

export interface PreludeConfig extends BasePreludeConfig {
  maxResultBytes: number;
}

/** Harness methods the host calls by Reference. */
export interface Harness {
  setExports(exports: Record<string, unknown>): void;
  /** Resolves to "R" + JSON `{"v": value}` or "E" + JSON `{kind, message, stack?}`. */
  invoke(name: string, argsJson: string): Promise<string>;
  drainConsole(): { text: string; truncated: boolean };
}

/**
 * The base part: `function (config, makeHarness)`. It calls `makeHarness(config, base)` last, with
 * `base` = `{ describeError, jsonReplacer, drainConsole, pendingConsole }` and the built-ins it
 * captured (`ReflectApply`, `stringify`, …), and returns its result. A harness is a function
 * expression in the same style; it runs before the submission too, so the built-ins it captures
 * itself are the real ones as well.
 */
const BASE = String.raw`function (config, makeHarness) {
  "use strict";
  const G = globalThis;
  const defineProperty = Object.defineProperty;
  const freeze = Object.freeze;
  const ReflectApply = Reflect.apply;
  const ReflectConstruct = Reflect.construct;
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const isView = ArrayBuffer.isView;
  const arrayFrom = Array.from;
  const DataViewCtor = DataView;
  const ErrorCtor = Error;
  const StringCtor = String;
  const imul = Math.imul;
  const charCodeAt = String.prototype.charCodeAt;
  const sliceString = String.prototype.slice;

  // Atomics.wait parks the isolate's thread where TerminateExecution cannot reach it (the host
  // would have to kill the process), and WebAssembly.Memory({ shared: true }) would hand out
  // SharedArrayBuffers again. Graded code needs none of them.
  delete G.SharedArrayBuffer;
  delete G.Atomics;
  delete G.WebAssembly;

  // Mulberry32 (Tommy Ettinger, public domain,
  // https://gist.github.com/tommyettinger/46a874533244883189143505d203312c): 32-bit state, full period.
  let state = config.seed >>> 0;
  defineProperty(Math, "random", {
    value: function random() {
      state = (state + 0x6d2b79f5) | 0;
      let t = imul(state ^ (state >>> 15), state | 1);
      t ^= t + imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
    writable: true, enumerable: false, configurable: true,
  });

  const RealDate = Date;
  const NOW = config.now;
  const dateToString = RealDate.prototype.toString;
  const FixedDate = function Date(...args) {
    if (new.target === undefined) return ReflectApply(dateToString, new RealDate(NOW), []);
    return ReflectConstruct(RealDate, args.length === 0 ? [NOW] : args, new.target);
  };
  defineProperty(FixedDate, "prototype", { value: RealDate.prototype, writable: false });
  FixedDate.now = function now() { return NOW; };
  FixedDate.parse = RealDate.parse;
  FixedDate.UTC = RealDate.UTC;
  defineProperty(RealDate.prototype, "constructor", { value: FixedDate, writable: true, enumerable: false, configurable: true });
  defineProperty(G, "Date", { value: FixedDate, writable: true, enumerable: false, configurable: true });

  function jsonReplacer(key, value) {
    if (typeof value === "object" && value !== null && isView(value) && !(value instanceof DataViewCtor)) {
      return arrayFrom(value);
    }
    return value;
  }

  // Console output stays in here, capped in UTF-8 bytes; past the cap a call costs nothing.
  const cap = config.maxConsoleBytes;
  let pending = "";
  let used = 0;
  let truncated = false;

  function utf8Prefix(text, budget) {
    let bytes = 0;
    let i = 0;
    const n = text.length;
    while (i < n) {
      const c = ReflectApply(charCodeAt, text, [i]);
      let size = 3;
      let step = 1;
      if (c < 0x80) size = 1;
      else if (c < 0x800) size = 2;
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
        const d = ReflectApply(charCodeAt, text, [i + 1]);
        if (d >= 0xdc00 && d <= 0xdfff) { size = 4; step = 2; }
      }
      if (bytes + size > budget) return { end: i, bytes, whole: false };
      bytes += size;
      i += step;
    }
    return { end: n, bytes, whole: true };
  }

  function formatValue(value) {
    if (typeof value === "string") return value;
    try {
      if (value instanceof ErrorCtor && typeof value.stack === "string") return value.stack;
      if (typeof value === "object" && value !== null) {
        const json = stringify(value, jsonReplacer);
        if (typeof json === "string") return json;
      }
      return StringCtor(value);
    } catch (error) {
      return "[unprintable value]";
    }
  }

  function write(args) {
    if (truncated) return;
    let line = "";
    for (let i = 0; i < args.length; i++) {
      line += (i === 0 ? "" : " ") + formatValue(args[i]);
      if (line.length > cap - used) break;
    }
    line += "\n";
    const fit = utf8Prefix(line, cap - used);
    pending += fit.whole ? line : ReflectApply(sliceString, line, [0, fit.end]);
    used += fit.bytes;
    if (!fit.whole) truncated = true;
  }

  const consoleObject = {
    log(...args) { write(args); },
    info(...args) { write(args); },
    debug(...args) { write(args); },
    warn(...args) { write(args); },
    error(...args) { write(args); },
    trace(...args) { write(args); },
  };
  defineProperty(G, "console", { value: consoleObject, writable: true, enumerable: false, configurable: true });

  // What was thrown, read once under the CPU limit (getters and Proxy traps of a thrown object run
  // here): "Name: message" for objects, the printed value for anything else.
  function describeError(error) {
    let text = "a value that cannot be printed was thrown";
    let stack;
    let primitive = false;
    try {
      if (typeof error === "object" && error !== null) {
        const name = error.name;
        const message = error.message;
        const trace = error.stack;
        text = (typeof name === "string" ? name : "Error") + ": " + (typeof message === "string" ? message : StringCtor(error));
        if (typeof trace === "string") stack = ReflectApply(sliceString, trace, [0, 4000]);
      } else {
        primitive = true;
        text = StringCtor(error);
      }
    } catch (ignored) {}
    return freeze({ text: ReflectApply(sliceString, text, [0, 2000]), stack, primitive });
  }

  return makeHarness(config, freeze({
    ReflectApply, defineProperty, freeze, stringify, parse, isView, DataViewCtor, sliceString,
    describeError,
    jsonReplacer,
    drainConsole() {
      const text = pending;
      pending = "";
      return { text, truncated };
    },
    pendingConsole() { return pending.length; },
  }));
}`;

/**
 * The job harness: named top-level functions called one by one, results copied out as JSON. A
 * String.raw, as the base part, so that an escape written here reaches the isolate as written.
 */
const JOB_HARNESS = String.raw`function (config, base) {
  "use strict";
  const { freeze, ReflectApply, stringify, parse, describeError, jsonReplacer } = base;
  const ObjectCreate = Object.create;

  function describeThrown(kind, error) {
    const { text, stack, primitive } = describeError(error);
    return "E" + stringify({ kind, message: primitive ? "Uncaught " + text : text, stack });
  }

  let exportsMap = ObjectCreate(null);

  async function invoke(name, argsJson) {
    const fn = exportsMap[name];
    if (typeof fn !== "function") {
      return "E" + stringify({ kind: "runtime", message: "ReferenceError: the submission declares no function named " + name });
    }
    let value;
    try {
      value = await ReflectApply(fn, undefined, parse(argsJson));
    } catch (error) {
      return describeThrown("runtime", error);
    }
    let json;
    try {
      json = stringify({ v: value }, jsonReplacer);
    } catch (error) {
      return describeThrown("result", error);
    }
    if (json.length > config.maxResultBytes) {
      return "E" + stringify({ kind: "result", message: "the return value takes more than " + config.maxResultBytes + " bytes as JSON" });
    }
    return "R" + json;
  }

  return freeze({
    setExports(map) { exportsMap = map; },
    invoke,
    drainConsole: base.drainConsole,
  });
}`;

/**
 * Source of a prelude script made of the base part and `harnessSource` (a function expression
 * `function (config, base) { … }`); its completion value is what the harness returns.
 */
export function composePrelude(config: BasePreludeConfig, harnessSource: string): string {
  return `(${BASE})(${JSON.stringify(config)}, ${harnessSource})`;
}

/** Source of the prelude script; its completion value is the harness. */
export function preludeSource(config: PreludeConfig): string {
  return composePrelude(config, JOB_HARNESS);
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const RESERVED = new Set(
  (
    "await break case catch class const continue debugger default delete do else enum export extends false " +
    "finally for function if implements import in instanceof interface let new null package private " +
    "protected public return static super switch this throw true try typeof var void while with yield"
  ).split(" "),
);

/** Whether `name` can be looked up as a top-level binding by `exportsSource`. */
export function isCallableName(name: string): boolean {
  return IDENTIFIER.test(name) && !RESERVED.has(name);
}

/**
 * A script run after the submission that collects the named top-level functions. It resolves
 * names through the global scope, so `function f`, `const f = () => …` and `class`-free `let`
 * bindings all count. Names must pass `isCallableName`.
 */
export function exportsSource(names: readonly string[]): string {
  const entries = names.map((n) => `${JSON.stringify(n)}: typeof ${n} === "function" ? ${n} : undefined`);
  return `({ __proto__: null, ${entries.join(", ")} })`;
}
