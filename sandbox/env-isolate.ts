/**
 * The child-process side of an env session: one isolate, the env harness of `env-prelude.ts` in it,
 * and every crossing as one synchronous isolated-vm call with a CPU timeout (the child serves this
 * session only, so blocking its thread costs nobody else). What comes out of the isolate is checked
 * here (counts, finiteness, flags) before it goes to the host; the time limit is kept here too, so
 * that the harness only learns, per step, which envs reach it.
 *
 * Every method throws `EnvFailure` when the crossing fails; the session is over after that.
 */
import type ivmModule from "isolated-vm";
import type { Context, Isolate, Reference } from "isolated-vm";
import { envPreludeSource, stepOutputLength } from "./env-prelude.ts";
import { EnvSpecError, sessionSpec } from "./env-spec.ts";
import {
  type CustomEnvSpec,
  type EnvSessionErrorKind,
  type EnvSessionLimits,
  MAX_BOX_SIZE,
  MAX_STATE_BYTES,
} from "./env-types.ts";
import { ConsoleCollector, submissionFrames } from "./output.ts";
import { exportsSource, PRELUDE_FILENAME, SUBMISSION_FILENAME } from "./prelude.ts";
import type { EnvRequest } from "./protocol.ts";
import { dropDangerousKeys } from "./result.ts";

type Ivm = typeof ivmModule;
type OpenRequest = Extract<EnvRequest, { type: "open" }>;

/** The prelude and the harness's own small calls get this much time whatever the session's limit. */
const HARNESS_TIMEOUT_MS = 1000;
const HARNESS_NAMES = [
  "open",
  "configure",
  "reset",
  "step",
  "getStates",
  "setStates",
  "where",
  "drainConsole",
] as const;

export class EnvFailure extends Error {
  constructor(
    readonly kind: EnvSessionErrorKind,
    message: string,
    /** Set when what ran out is the session's overall budget (`totalCpuMs`), not one crossing's limit. */
    readonly budget?: "cpu",
  ) {
    super(message);
  }
}

const TAMPERED = "the sandbox harness returned a malformed result (was it tampered with?)";

/** ` (submission.js:12:5)`: where in the submission the error was thrown, when it was. */
function location(stack: string | undefined): string {
  const frame = submissionFrames(stack)?.split("\n")[0];
  const at = frame?.match(new RegExp(`${SUBMISSION_FILENAME.replace(".", "\\.")}:\\d+:\\d+`));
  return at ? ` (${at[0]})` : "";
}

function harnessFailure(value: unknown): EnvFailure | undefined {
  if (typeof value !== "object" || value === null || !("error" in value)) return undefined;
  const error = (value as { error: unknown }).error;
  if (typeof error !== "object" || error === null) return new EnvFailure("result", TAMPERED);
  const { kind, message, stack } = error as { kind?: unknown; message?: unknown; stack?: unknown };
  const text = typeof message === "string" ? message.slice(0, 2000) : "the call failed";
  return new EnvFailure(
    kind === "runtime" ? "runtime" : "result",
    text + location(typeof stack === "string" ? stack : undefined),
  );
}

/** Float32 copy of `count` values, each checked: NaN, ±Infinity and values beyond float32 are refused. */
function copyObservation(
  from: Float64Array,
  fromOffset: number,
  to: Float32Array,
  toOffset: number,
  count: number,
  label: () => string,
): void {
  for (let j = 0; j < count; j++) {
    to[toOffset + j] = from[fromOffset + j];
    const f = to[toOffset + j];
    if (f - f !== 0) {
      const v = from[fromOffset + j];
      const what = Number.isFinite(v) ? `${v}, beyond the float32 range` : String(v);
      throw new EnvFailure("result", `${label()} an observation whose value ${j} is ${what}`);
    }
  }
}

export class IsolateEnvs {
  private readonly isolate: Isolate;
  private readonly limits: EnvSessionLimits;
  private readonly numEnvs: number;
  private readonly consoleOut: ConsoleCollector;
  private refs: Record<(typeof HARNESS_NAMES)[number], Reference> | undefined;
  private spec: CustomEnvSpec | undefined;
  private obsDim = 0;
  private actDim = 0;
  private elapsed: Int32Array;
  private stepInput = new Float64Array(0);
  /** Whether the crossing in flight was given less CPU than its limit, by the overall budget. */
  private budgetBound = false;

  constructor(
    ivm: Ivm,
    private readonly request: OpenRequest,
    onCatastrophe: (message: string) => void,
  ) {
    this.limits = request.limits;
    this.numEnvs = request.numEnvs;
    this.consoleOut = new ConsoleCollector(request.limits.maxConsoleBytes);
    this.elapsed = new Int32Array(request.numEnvs);
    this.isolate = new ivm.Isolate({
      memoryLimit: request.limits.memoryMb,
      onCatastrophicError: onCatastrophe,
    });
  }

  /** Runs the prelude and the script, creates the N envs and checks what they declare. */
  open(): CustomEnvSpec {
    const { isolate, request, limits } = this;
    let context: Context;
    try {
      context = isolate.createContextSync();
      const prelude = isolate.compileScriptSync(
        envPreludeSource({
          seed: request.seed,
          now: request.now,
          maxConsoleBytes: limits.maxConsoleBytes,
          numEnvs: request.numEnvs,
          maxBoxSize: MAX_BOX_SIZE,
          maxStateBytes: MAX_STATE_BYTES,
        }),
        { filename: PRELUDE_FILENAME },
      );
      const harness = prelude.runSync(context, { reference: true, timeout: HARNESS_TIMEOUT_MS });
      const refs: Partial<Record<(typeof HARNESS_NAMES)[number], Reference>> = {};
      for (const name of HARNESS_NAMES) refs[name] = harness.getSync(name, { reference: true });
      this.refs = refs as Record<(typeof HARNESS_NAMES)[number], Reference>;
    } catch (error) {
      throw this.classify(error, "starting the sandbox");
    }

    let script: ReturnType<Isolate["compileScriptSync"]>;
    try {
      script = isolate.compileScriptSync(request.code, { filename: SUBMISSION_FILENAME });
    } catch (error) {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new EnvFailure("syntax", `the script does not compile: ${message.slice(0, 2000)}`);
    }
    const cpuAtStart = isolate.cpuTime;
    try {
      script
        .runSync(context, {
          reference: true,
          timeout: this.cpuTimeout("the script's top level", limits.callCpuMs),
        })
        .release();
    } catch (error) {
      throw this.classify(error, "the script's top level");
    } finally {
      this.pullConsole(1);
    }
    // The top level and the N createEnv() calls share the crossing's CPU limit.
    const usedMs = Number(isolate.cpuTime - cpuAtStart) / 1e6;
    const remainingMs = Math.max(1, Math.floor(limits.callCpuMs - usedMs));
    let opened: unknown;
    try {
      let exportsRef: Reference;
      try {
        exportsRef = isolate
          .compileScriptSync(exportsSource(["createEnv"]))
          .runSync(context, { reference: true, timeout: HARNESS_TIMEOUT_MS });
      } catch (error) {
        throw this.classify(error, "looking up createEnv()");
      }
      opened = this.call("createEnv()", "open", [exportsRef.derefInto()], {
        result: { copy: true },
        timeout: this.cpuTimeout("createEnv()", remainingMs),
      });
    } finally {
      this.pullConsole(1);
    }
    let spec: CustomEnvSpec;
    try {
      spec = sessionSpec(opened);
    } catch (error) {
      if (error instanceof EnvSpecError) throw new EnvFailure("result", error.message);
      throw error;
    }
    const discrete = spec.actionSpace.kind === "discrete";
    this.obsDim = spec.observationSpace.low.length;
    this.actDim = spec.actionSpace.kind === "discrete" ? 1 : spec.actionSpace.low.length;
    this.stepInput = new Float64Array(this.numEnvs * this.actDim + this.numEnvs);
    this.call("configuring the envs", "configure", [discrete, this.obsDim, this.actDim], {
      timeout: HARNESS_TIMEOUT_MS,
    });
    this.spec = spec;
    return spec;
  }

  /** `seeds`: one per env, NaN for none. */
  reset(seeds: Float64Array): Float32Array<ArrayBuffer> {
    const n = this.numEnvs;
    const dim = this.obsDim;
    const out = this.call("reset()", "reset", [seeds], {
      arguments: { copy: true },
      result: { copy: true },
      timeout: this.cpuTimeout("reset()", this.limits.callCpuMs),
    });
    const packed = this.packed(out, n * dim + 1);
    const observations = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) {
      copyObservation(packed, i * dim, observations, i * dim, dim, () => `reset() of env ${i} returned`);
    }
    this.elapsed.fill(0);
    this.pullConsole(packed[n * dim]);
    return observations;
  }

  /** `actions`: N × actDim values, already checked and clipped by the host. */
  step(actions: Float64Array) {
    const n = this.numEnvs;
    const dim = this.obsDim;
    const input = this.stepInput;
    const limitBase = n * this.actDim;
    const maxSteps = this.spec!.maxEpisodeSteps;
    input.set(actions);
    for (let i = 0; i < n; i++) input[limitBase + i] = this.elapsed[i] + 1 >= maxSteps ? 1 : 0;
    const out = this.call("step()", "step", [input], {
      arguments: { copy: true },
      result: { copy: true },
      timeout: this.cpuTimeout("step()", this.limits.callCpuMs),
    });
    const packed = this.packed(out, stepOutputLength(n, dim));
    const finalBase = n * dim;
    const rewardBase = 2 * n * dim;
    const terminatedBase = rewardBase + n;
    const truncatedBase = terminatedBase + n;
    const observations = new Float32Array(n * dim);
    const finalObservations = new Float32Array(n * dim);
    const rewards = new Float64Array(n);
    const terminated = new Uint8Array(n);
    const truncated = new Uint8Array(n);
    const hasFinal = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const reward = packed[rewardBase + i];
      if (!Number.isFinite(reward))
        throw new EnvFailure(
          "result",
          `step() of env ${i} returned a reward of ${reward}, not a finite number`,
        );
      const term = packed[terminatedBase + i];
      const trunc = packed[truncatedBase + i];
      if ((term !== 0 && term !== 1) || (trunc !== 0 && trunc !== 1))
        throw new EnvFailure("result", TAMPERED);
      rewards[i] = reward;
      terminated[i] = term;
      // Gymnasium's TimeLimit: truncated once the episode's length reaches the limit, even on a
      // step that also terminates.
      truncated[i] = trunc === 1 || input[limitBase + i] === 1 ? 1 : 0;
      const row = i * dim;
      if (term === 1 || truncated[i] === 1) {
        hasFinal[i] = 1;
        copyObservation(
          packed,
          finalBase + row,
          finalObservations,
          row,
          dim,
          () => `step() of env ${i} returned`,
        );
        copyObservation(
          packed,
          row,
          observations,
          row,
          dim,
          () => `reset() of env ${i} (autoreset) returned`,
        );
        this.elapsed[i] = 0;
      } else {
        copyObservation(packed, row, observations, row, dim, () => `step() of env ${i} returned`);
        this.elapsed[i]++;
      }
    }
    this.pullConsole(packed[packed.length - 1]);
    return { observations, rewards, terminated, truncated, finalObservations, hasFinal };
  }

  getStates(): { states: unknown[]; elapsed: Int32Array<ArrayBuffer> } {
    let out: unknown;
    try {
      out = this.call("getStates()", "getStates", [], {
        result: { copy: true },
        timeout: this.cpuTimeout("getStates()", this.limits.callCpuMs),
      });
    } finally {
      this.pullConsole(1);
    }
    if (typeof out !== "string") throw new EnvFailure("result", TAMPERED);
    if (out.length > MAX_STATE_BYTES)
      throw new EnvFailure(
        "result",
        `the states of the envs take more than ${MAX_STATE_BYTES} bytes as JSON`,
      );
    let states: unknown;
    try {
      states = JSON.parse(out, dropDangerousKeys);
    } catch {
      throw new EnvFailure("result", TAMPERED);
    }
    if (!Array.isArray(states) || states.length !== this.numEnvs) throw new EnvFailure("result", TAMPERED);
    return { states, elapsed: new Int32Array(this.elapsed) };
  }

  /** `elapsed` has been checked by the host (0 ≤ e < maxEpisodeSteps). */
  setStates(statesJson: string, elapsed: Int32Array): void {
    try {
      this.call("setStates()", "setStates", [statesJson], {
        arguments: { copy: true },
        timeout: this.cpuTimeout("setStates()", this.limits.callCpuMs),
      });
    } finally {
      this.pullConsole(1);
    }
    this.elapsed.set(elapsed);
  }

  /** CPU time the isolate has used so far (isolated-vm `cpuTime`), in ms. */
  cpuTimeMs(): number {
    try {
      return this.isolate.isDisposed ? 0 : Number(this.isolate.cpuTime) / 1e6;
    } catch {
      return 0;
    }
  }

  /**
   * The CPU timeout of a crossing: its own limit, or what is left of the session's overall budget
   * when that is less, so that the budget holds to the crossing (isolated-vm stops the call at it).
   */
  private cpuTimeout(what: string, crossingMs: number): number {
    this.budgetBound = false;
    const total = this.limits.totalCpuMs;
    if (total === undefined) return crossingMs;
    const left = Math.floor(total - this.cpuTimeMs());
    if (left < 1) throw this.budgetSpent(what);
    if (left >= crossingMs) return crossingMs;
    this.budgetBound = true;
    return left;
  }

  private budgetSpent(what: string): EnvFailure {
    return new EnvFailure(
      "timeout",
      `${what} ran out of the session's overall CPU budget of ${this.limits.totalCpuMs} ms`,
      "cpu",
    );
  }

  /** Console output captured since the last take. */
  takeConsole(): string {
    return this.consoleOut.take();
  }

  dispose(): void {
    try {
      if (!this.isolate.isDisposed) this.isolate.dispose();
    } catch {
      // disposed meanwhile (memory limit)
    }
  }

  private call(
    what: string,
    name: (typeof HARNESS_NAMES)[number],
    args: unknown[],
    options: Parameters<Reference["applySync"]>[2],
  ): unknown {
    let value: unknown;
    try {
      value = this.refs![name].applySync(undefined, args, options);
    } catch (error) {
      throw this.classify(error, what);
    }
    const failure = harnessFailure(value);
    if (failure) throw failure;
    return value;
  }

  private packed(value: unknown, length: number): Float64Array {
    if (!(value instanceof Float64Array) || value.length !== length) throw new EnvFailure("result", TAMPERED);
    return value;
  }

  /** `waiting`: characters the harness says are waiting (0 spares a call). */
  private pullConsole(waiting: number): void {
    if (!(waiting > 0) || !this.refs || this.isolate.isDisposed) return;
    try {
      const drained = this.refs.drainConsole.applySync(undefined, [], {
        result: { copy: true },
        timeout: HARNESS_TIMEOUT_MS,
      }) as { text?: unknown; truncated?: unknown } | undefined;
      if (drained && typeof drained.text === "string")
        this.consoleOut.append(drained.text, drained.truncated === true);
    } catch {
      // a dead or tampered harness just stops providing output
    }
  }

  private classify(error: unknown, what: string): EnvFailure {
    const { limits } = this;
    const message = error instanceof Error ? error.message : String(error);
    if (this.isolate.isDisposed || /memory limit/i.test(message)) {
      return new EnvFailure("memory", `${what} reached the memory limit of ${limits.memoryMb} MiB`);
    }
    if (/timed out/i.test(message)) {
      if (this.budgetBound) return this.budgetSpent(what);
      return new EnvFailure(
        "timeout",
        `${what} did not finish within the CPU limit of ${limits.callCpuMs} ms (it was running ${this.where()})`,
      );
    }
    const name = error instanceof Error ? error.name : "";
    const text = name ? `${name}: ${message}` : message;
    const stack = error instanceof Error ? error.stack : undefined;
    return new EnvFailure("runtime", `${what} threw ${text.slice(0, 2000)}${location(stack)}`);
  }

  private where(): string {
    try {
      const where = this.refs?.where.applySync(undefined, [], { timeout: HARNESS_TIMEOUT_MS });
      return typeof where === "string" ? where.slice(0, 200) : "the submission";
    } catch {
      return "the submission";
    }
  }
}
