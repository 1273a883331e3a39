import type { MikroORM } from "@mikro-orm/postgresql";
import { defaultEvaluationSeed } from "../../actors/evaluation.ts";
import { ReplayFailedError, replayInThread } from "../../actors/replay-thread.ts";
import type { ReplayEpisode, RunReplay } from "../../contracts/replay.ts";
import { Checkpoint } from "../../db/entities/Checkpoint.ts";
import type { Run } from "../../db/entities/Run.ts";
import { ConflictError } from "../../lib/errors.ts";
import { isCodeEnvId } from "../../rl/envs/code-env.ts";

/** Recorded episodes kept per runs node: a page that is opened again, or by several people, costs nothing. */
const CACHED_EPISODES = 16;
/** Replay threads at once per runs node: more requests wait their turn rather than take every core. */
const CONCURRENT_REPLAYS = 2;

/**
 * The evaluation episodes of runs' latest checkpoints, recorded for the dashboard's player
 * (GET /runs/:id/replay). Each is recorded once per checkpoint in a worker thread of its own
 * (actors/replay-thread.ts), never on this event loop; the last CACHED_EPISODES are kept, keyed by
 * the checkpoint row and its write time (a replayed iteration rewrites its row in place, with a new
 * write time), and concurrent requests for the same episode share one recording.
 */
export class RunReplays {
  private readonly cache = new Map<string, Promise<ReplayEpisode>>();
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly orm: MikroORM) {}

  async replay(run: Run, episode: number): Promise<RunReplay> {
    if (isCodeEnvId(run.envId))
      throw new ConflictError(
        `${run.envId} is an environment defined by code: only the built-in environments can be replayed`,
        { envId: run.envId },
      );
    // The newest checkpoint's row without its bytes: a cached episode needs none of them.
    const latest = await this.orm.em
      .fork()
      .findOne(
        Checkpoint,
        { run: run.id },
        { orderBy: { iteration: "desc" }, fields: ["id", "iteration", "globalStep", "createdAt"] },
      );
    if (!latest)
      throw new ConflictError(
        "the run has no checkpoint yet: its replay plays the latest checkpoint's policy, written after its first iterations",
        { status: run.status },
      );
    const seed = run.evaluation?.seed ?? defaultEvaluationSeed(run.config);
    const key = `${latest.id}:${latest.createdAt.getTime()}:${seed}:${episode}`;
    let recorded = this.cache.get(key);
    if (!recorded) {
      recorded = this.record(latest.id, seed, episode);
      this.cache.set(key, recorded);
      // A failure is not kept: the next request tries again.
      recorded.catch(() => this.cache.delete(key));
      while (this.cache.size > CACHED_EPISODES) this.cache.delete(this.cache.keys().next().value!);
    } else {
      // Most recently used last.
      this.cache.delete(key);
      this.cache.set(key, recorded);
    }
    const e = await recorded;
    return { ...e, runId: run.id, iteration: latest.iteration, globalStep: latest.globalStep, episode };
  }

  private async record(checkpointId: string, seed: number, episode: number): Promise<ReplayEpisode> {
    await this.turn();
    try {
      const c = await this.orm.em.fork().findOne(Checkpoint, { id: checkpointId }, { populate: ["bytes"] });
      if (!c)
        throw new ConflictError(
          "the run's checkpoint is gone (the run was deleted while its replay was asked for)",
        );
      return await replayInThread({ checkpoint: new Uint8Array(c.bytes), seed, episode });
    } catch (err) {
      if (err instanceof ReplayFailedError && err.code === "UNKNOWN_ENV")
        throw new ConflictError(`the checkpoint cannot be replayed: ${err.message}`);
      throw err;
    } finally {
      // The slot passes to the next in line, or is freed.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  /** Waits for a free replay thread (at most CONCURRENT_REPLAYS run at once). */
  private async turn(): Promise<void> {
    if (this.running < CONCURRENT_REPLAYS) {
      this.running++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
}
