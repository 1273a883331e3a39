import { type MikroORM, OptimisticLockError } from "@mikro-orm/postgresql";
import type { MetricRecord, RunStore, StoredCheckpoint } from "../../actors/training-run.ts";
import { Checkpoint } from "../../db/entities/Checkpoint.ts";
import { MetricPoint } from "../../db/entities/MetricPoint.ts";
import { Run, type RunStatus } from "../../db/entities/Run.ts";
import { ConflictError } from "../../lib/errors.ts";

const MAX_ATTEMPTS = 8;

/** The run kept changing under every attempt to write it: a 409 for a caller, who may retry. */
export class RunWriteConflictError extends ConflictError {}

/**
 * Read-modify-write of one run under its optimistic lock (`version`): when another node changed the
 * row in between (a stop request, a resume), the write fails, the row is read again and `mutate`
 * decides anew. `mutate` returns false to leave the row as it is. Null when the run does not exist.
 */
export async function updateRun(
  orm: MikroORM,
  runId: string,
  mutate: (run: Run) => boolean | undefined,
): Promise<{ run: Run; written: boolean } | null> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const em = orm.em.fork();
    const run = await em.findOne(Run, { id: runId });
    if (!run) return null;
    if (mutate(run) === false) return { run, written: false };
    try {
      await em.flush();
      return { run, written: true };
    } catch (err) {
      if (!(err instanceof OptimisticLockError)) throw err;
      // Back off a little, with jitter, so that two writers that collided do not collide again.
      await new Promise((r) => setTimeout(r, Math.random() * 10 * (attempt + 1)));
    }
  }
  throw new RunWriteConflictError(`run ${runId} kept changing under ${MAX_ATTEMPTS} attempts to write it`);
}

/**
 * Asks a run to stop, in one conditional UPDATE: queued → stopped, running → stopping (the actor
 * finishes within one iteration). It is deliberately not a read-modify-write under the optimistic
 * lock: the hosting actor bumps the version with every iteration it records (several a second on a
 * small run), so a stop request retried on version conflicts could lose every round under load and
 * fail. The actor's own next write then sees the new version, re-reads and finds `stopping`.
 * Returns the status written, or null when the run was in no state to be stopped (or is gone).
 */
export async function requestStop(orm: MikroORM, runId: string): Promise<RunStatus | null> {
  const rows = await orm.em.getConnection().execute<{ status: RunStatus }[]>(
    `update "runs" set
       "status" = case "status" when 'queued' then 'stopped' else 'stopping' end,
       "finished_at" = case "status" when 'queued' then now() else "finished_at" end,
       "version" = "version" + 1,
       "updated_at" = now()
     where "id" = ? and "status" in ('queued', 'running')
     returning "status"`,
    [runId],
  );
  return rows[0]?.status ?? null;
}

/**
 * The TrainingRun actor's store on this node: every write also renews the lease, and is refused (as a
 * gone run) once the lease names another node, so that two activations never both write one run.
 */
export class PgRunStore implements RunStore {
  constructor(
    private readonly orm: MikroORM,
    private readonly nodeID: string,
    private readonly leaseTtlMs: number,
  ) {}

  private owns(run: { ownerNode?: string | null }): boolean {
    return run.ownerNode === this.nodeID;
  }

  private renew(run: Run): void {
    run.leaseUntil = new Date(Date.now() + this.leaseTtlMs);
  }

  async status(runId: string): Promise<RunStatus | null> {
    const run = await this.orm.em.fork().findOne(Run, { id: runId }, { fields: ["status", "ownerNode"] });
    return run && this.owns(run) ? run.status : null;
  }

  async transition(
    runId: string,
    from: RunStatus,
    to: RunStatus,
    extra: { failureReason?: string | null } = {},
  ): Promise<boolean> {
    const result = await updateRun(this.orm, runId, (run) => {
      if (!this.owns(run) || run.status !== from) return false;
      run.status = to;
      this.renew(run);
      if (to === "running") run.startedAt ??= new Date();
      if (to === "completed" || to === "stopped" || to === "failed") run.finishedAt = new Date();
      if (extra.failureReason !== undefined) run.failureReason = extra.failureReason;
      return true;
    });
    return result?.written ?? false;
  }

  async recordIteration(runId: string, point: MetricRecord): Promise<RunStatus | null> {
    const em = this.orm.em.fork();
    await em.upsert(
      MetricPoint,
      {
        run: runId,
        iteration: point.iteration,
        globalStep: point.globalStep,
        wallTime: new Date(),
        metrics: point.metrics,
      },
      { onConflictFields: ["run", "iteration"], onConflictExcludeFields: ["id"] },
    );
    const result = await updateRun(this.orm, runId, (run) => {
      if (!this.owns(run)) return false;
      run.iteration = point.iteration;
      run.globalStep = point.globalStep;
      this.renew(run);
      return true;
    });
    return result && this.owns(result.run) ? result.run.status : null;
  }

  async saveCheckpoint(runId: string, c: StoredCheckpoint & { globalStep: number }): Promise<void> {
    await this.orm.em.fork().upsert(
      Checkpoint,
      {
        run: runId,
        iteration: c.iteration,
        globalStep: c.globalStep,
        bytes: Buffer.from(c.bytes.buffer, c.bytes.byteOffset, c.bytes.byteLength),
        runnerStates: c.runnerStates,
        createdAt: new Date(),
      },
      { onConflictFields: ["run", "iteration"], onConflictExcludeFields: ["id"] },
    );
  }

  async latestCheckpoint(runId: string): Promise<StoredCheckpoint | null> {
    const c = await latestCheckpoint(this.orm, runId);
    return c && { iteration: c.iteration, bytes: c.bytes, runnerStates: c.runnerStates };
  }
}

/** The run's newest checkpoint, bytes included. */
export async function latestCheckpoint(orm: MikroORM, runId: string): Promise<Checkpoint | null> {
  return orm.em
    .fork()
    .findOne(Checkpoint, { run: runId }, { orderBy: { iteration: "desc" }, populate: ["bytes"] });
}
