/**
 * rl's AsyncVectorEnv over an environment defined by code: its N sub-envs live in one isolate of one
 * sandbox child process (an EnvSession), and every vector step is one crossing for all of them, with
 * the autoreset done inside it. What rl's VectorEnv does in process is done here on the host around
 * that crossing: episode statistics (RecordEpisodeStatistics), a check that the time limit holds, and
 * the snapshots a checkpoint or a replacement runner restores from.
 *
 * Restoring: an env with getState/setState continues exactly where it was. One without them cannot
 * be put back mid-episode; it begins a new episode instead, seeded deriveSeed(first seed, episodes so
 * far), so that a resumed run is still reproducible, though not the same as an uninterrupted one.
 */
import { deriveSeed } from "../rl/core/rng.ts";
import type { BoxSpace, Space } from "../rl/core/types.ts";
import { type CodeEnvDefinition, type CodeEnvSpec, codeEnvSpaces } from "../rl/envs/code-env.ts";
import { EnvError } from "../rl/envs/errors.ts";
import {
  type AsyncVectorEnv,
  type CodeEnvSnapshot,
  checkVectorActions,
  checkVectorState,
  type EpisodeStats,
  type VectorEnvState,
  type VectorStepResult,
} from "../rl/envs/vector.ts";
import { type CustomEnvCaps, EnvSession, type EnvSessionLimits } from "./env-session.ts";

export interface CodeVectorEnvOptions {
  limits?: Partial<EnvSessionLimits>;
  /** The platform's caps on declared sizes (EnvSession's `caps`); a local run has none. */
  caps?: CustomEnvCaps;
}

export class CodeVectorEnv implements AsyncVectorEnv {
  readonly id: string;
  readonly numEnvs: number;
  readonly singleObservationSpace: BoxSpace;
  readonly singleActionSpace: Space;
  readonly observationDim: number;
  readonly actionDim: number;
  readonly spec: CodeEnvSpec;

  private readonly result: VectorStepResult;
  private readonly episodeReturns: Float64Array;
  private readonly episodeLengths: Int32Array;
  private readonly firstSeeds: number[];
  private readonly episodes: number[];
  private captured: VectorEnvState | null = null;
  private started = false;

  private constructor(
    id: string,
    private readonly session: EnvSession,
  ) {
    this.id = id;
    this.spec = session.spec;
    const spaces = codeEnvSpaces(session.spec);
    this.numEnvs = session.numEnvs;
    this.singleObservationSpace = spaces.observationSpace;
    this.singleActionSpace = spaces.actionSpace;
    this.observationDim = session.obsDim;
    this.actionDim = session.actDim;
    const n = this.numEnvs;
    this.result = {
      observations: new Float32Array(n * this.observationDim),
      rewards: new Float32Array(n),
      terminated: new Uint8Array(n),
      truncated: new Uint8Array(n),
      finalObservations: new Float32Array(n * this.observationDim),
      hasFinal: new Uint8Array(n),
      episodes: [],
    };
    this.episodeReturns = new Float64Array(n);
    this.episodeLengths = new Int32Array(n);
    this.firstSeeds = new Array<number>(n).fill(0);
    this.episodes = new Array<number>(n).fill(0);
  }

  /**
   * Starts the env's sandbox and checks that the code still declares what was checked and stored
   * (`definition.spec`, when given): a policy network built for other spaces must not meet it.
   */
  static async open(
    id: string,
    definition: Pick<CodeEnvDefinition, "code"> & { spec?: CodeEnvSpec },
    numEnvs: number,
    options: CodeVectorEnvOptions = {},
  ): Promise<CodeVectorEnv> {
    const session = await EnvSession.open(definition.code, numEnvs, {
      limits: options.limits,
      ...(options.caps ? { caps: options.caps } : {}),
    });
    const declared = canonicalJson(session.spec);
    if (definition.spec && declared !== canonicalJson(definition.spec)) {
      await session.close();
      throw new EnvError(
        "INVALID_OPTION",
        `the environment now declares ${declared}, not the spaces it was checked with`,
        id,
      );
    }
    return new CodeVectorEnv(id, session);
  }

  get observations(): Float32Array {
    return this.result.observations;
  }

  async reset(options: { seed?: number } = {}): Promise<Float32Array> {
    const { seed } = options;
    if (seed !== undefined && !Number.isInteger(seed)) {
      throw new EnvError("INVALID_OPTION", `seed must be an integer, got ${seed}`, this.id);
    }
    const seeds = Array.from({ length: this.numEnvs }, (_, i) => (seed === undefined ? undefined : seed + i));
    const obs = await this.session.reset(seeds);
    for (let i = 0; i < this.numEnvs; i++) {
      this.firstSeeds[i] = seeds[i] ?? 0;
      this.episodes[i] = 1;
    }
    this.clearStep();
    this.result.observations.set(obs);
    this.episodeReturns.fill(0);
    this.episodeLengths.fill(0);
    this.started = true;
    this.captured = this.hostSnapshot(null);
    return this.result.observations;
  }

  async step(actions: Int32Array | Float32Array): Promise<VectorStepResult> {
    if (!this.started) throw new EnvError("RESET_NEEDED", "call reset() before step()", this.id);
    checkVectorActions(this, actions);
    const out = await this.session.step(actions);
    const r = this.result;
    const limit = this.spec.maxEpisodeSteps;
    const episodes: EpisodeStats[] = [];
    r.observations.set(out.observations);
    r.finalObservations.set(out.finalObservations);
    r.hasFinal.set(out.hasFinal);
    r.terminated.set(out.terminated);
    r.truncated.set(out.truncated);
    for (let i = 0; i < this.numEnvs; i++) {
      const reward = out.rewards[i]!;
      r.rewards[i] = reward;
      this.episodeReturns[i] += reward;
      this.episodeLengths[i] += 1;
      if (out.terminated[i] || out.truncated[i]) {
        episodes.push({ index: i, return: this.episodeReturns[i]!, length: this.episodeLengths[i]! });
        this.episodeReturns[i] = 0;
        this.episodeLengths[i] = 0;
        this.episodes[i]! += 1;
      } else if (this.episodeLengths[i]! >= limit) {
        // The sandbox's harness truncates at the limit; code that tampered with it is not believed.
        throw new EnvError(
          "INVALID_STATE",
          `env ${i} ran past its time limit of ${limit} steps without being truncated`,
          this.id,
        );
      }
    }
    r.episodes = episodes;
    return r;
  }

  /** Reads the sub-envs' own states (one crossing) when the env has getState/setState. */
  async captureState(): Promise<void> {
    if (!this.started) {
      this.captured = this.hostSnapshot(null);
      return;
    }
    const states = this.spec.stateful ? await this.session.getStates() : null;
    this.captured = this.hostSnapshot(states);
  }

  getState(): VectorEnvState {
    return this.captured ?? this.hostSnapshot(null);
  }

  async setState(state: VectorEnvState): Promise<void> {
    checkVectorState(this, state);
    const snaps = state.envs.map((s, i) => {
      if (!("kind" in s) || s.kind !== "code" || s.observation.length !== this.observationDim)
        throw new EnvError("INVALID_STATE", `sub-env ${i}'s state is not of this environment`, this.id);
      return s;
    });
    if (!state.started) {
      this.started = false;
      this.captured = null;
      return;
    }
    const exact = this.spec.stateful && snaps.every((s) => s.custom !== null);
    for (let i = 0; i < this.numEnvs; i++) this.firstSeeds[i] = snaps[i]!.firstSeed;
    this.clearStep();
    if (exact) {
      await this.session.setStates(snaps.map((s) => ({ env: s.custom, elapsed: s.elapsedSteps })));
      for (let i = 0; i < this.numEnvs; i++) {
        const s = snaps[i]!;
        this.episodes[i] = s.episodes;
        this.result.observations.set(s.observation, i * this.observationDim);
      }
      this.episodeReturns.set(state.episodeReturns);
      this.episodeLengths.set(state.episodeLengths);
    } else {
      // Without the envs' own states, each begins a new episode from a seed its history fixes.
      const seeds = snaps.map((s) => deriveSeed(s.firstSeed, s.episodes));
      this.result.observations.set(await this.session.reset(seeds));
      for (let i = 0; i < this.numEnvs; i++) this.episodes[i] = snaps[i]!.episodes + 1;
      this.episodeReturns.fill(0);
      this.episodeLengths.fill(0);
    }
    this.started = true;
    const host = this.hostSnapshot(null);
    this.captured = exact ? { ...host, envs: snaps } : host;
  }

  /** Console output of the env's code since the last call (capped over the session). */
  drainConsole(): string {
    return this.session.drainConsole();
  }

  async close(): Promise<void> {
    await this.session.close();
  }

  private clearStep(): void {
    const r = this.result;
    r.rewards.fill(0);
    r.terminated.fill(0);
    r.truncated.fill(0);
    r.finalObservations.fill(0);
    r.hasFinal.fill(0);
    r.episodes = [];
  }

  private hostSnapshot(states: readonly { env: unknown; elapsed: number }[] | null): VectorEnvState {
    const dim = this.observationDim;
    const envs: CodeEnvSnapshot[] = [];
    for (let i = 0; i < this.numEnvs; i++) {
      envs.push({
        id: this.id,
        kind: "code",
        elapsedSteps: states?.[i]?.elapsed ?? this.episodeLengths[i]!,
        custom: states?.[i]?.env ?? null,
        firstSeed: this.firstSeeds[i]!,
        episodes: this.episodes[i]!,
        observation: Array.from(this.result.observations.subarray(i * dim, (i + 1) * dim)),
      });
    }
    return {
      version: 1,
      id: this.id,
      numEnvs: this.numEnvs,
      started: this.started,
      envs,
      episodeReturns: Array.from(this.episodeReturns),
      episodeLengths: Array.from(this.episodeLengths),
    };
  }
}

/** JSON with object keys sorted at every level: the stored spec went through jsonb, which reorders keys. */
function canonicalJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v !== null && typeof v === "object") {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(
        Object.keys(o)
          .sort()
          .map((k) => [k, sort(o[k])]),
      );
    }
    return v;
  };
  return JSON.stringify(sort(value));
}
