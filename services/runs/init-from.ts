import type { EntityManager } from "@mikro-orm/postgresql";
import type { Caller } from "../../contracts/roles.ts";
import { Checkpoint } from "../../db/entities/Checkpoint.ts";
import { ValidationFailedError } from "../../lib/errors.ts";
import { decodeCheckpoint, encodeCheckpoint } from "../../rl/ppo/checkpoint.ts";
import type { Hyperparameters } from "../../rl/ppo/hyperparameters.ts";
import { visibleRun } from "./records.ts";
import type { ResolvedRun } from "./resolve.ts";

/**
 * A run that starts from another run's checkpoint with hyperparameters of its own (population-based
 * training's exploit step; fine-tuning). At creation the source checkpoint is copied as the new run's
 * own first checkpoint, its configuration replaced by the new run's: the TrainingRun actor then
 * restores it at activation exactly as it restores any run, and a re-activation after a crash
 * finds it there too. The weights, Adam's moments, the RNG and env states and the counters carry
 * over, so the new run continues the source's curve at its step.
 */
export interface InitFrom {
  runId: string;
  /** The source's checkpoint at this iteration; by default its latest. */
  iteration?: number;
}

/** What must not change for a checkpoint to fit: the network and the env states' layout. */
const MUST_MATCH = ["numEnvs", "hiddenSizes", "activation", "useSde"] as const;

/** The source checkpoint, checked against the new run; 404 when the caller may not see the source. */
export async function sourceCheckpoint(
  em: EntityManager,
  from: InitFrom,
  caller: Caller,
  env: string,
  resolved: ResolvedRun,
): Promise<Checkpoint> {
  const source = await visibleRun(em, from.runId, caller);
  const problems: { field: string; message: string }[] = [];
  if (source.envId !== env)
    problems.push({ field: "initFrom.runId", message: `is a run of ${source.envId}` });
  for (const key of MUST_MATCH) {
    if (JSON.stringify(source.config[key]) !== JSON.stringify(resolved.config[key])) {
      problems.push({
        field: `hyperparameters.${key}`,
        message: `must equal the source run's (${JSON.stringify(source.config[key])}) to start from its checkpoint`,
      });
    }
  }
  if (problems.length > 0)
    throw new ValidationFailedError("the run cannot start from that checkpoint", problems);
  const checkpoint = await em.findOne(
    Checkpoint,
    from.iteration === undefined ? { run: source.id } : { run: source.id, iteration: from.iteration },
    { orderBy: { iteration: "desc" }, populate: ["bytes"] },
  );
  if (!checkpoint) {
    throw new ValidationFailedError("the run cannot start from that checkpoint", [
      {
        field: from.iteration === undefined ? "initFrom.runId" : "initFrom.iteration",
        message:
          from.iteration === undefined
            ? "the source run has no checkpoint yet"
            : "no checkpoint at that iteration",
      },
    ]);
  }
  if (checkpoint.globalStep >= resolved.config.totalTimesteps) {
    throw new ValidationFailedError("the run cannot start from that checkpoint", [
      { field: "totalSteps", message: `must exceed the checkpoint's step (${checkpoint.globalStep})` },
    ]);
  }
  return checkpoint;
}

/** Writes the source checkpoint as the new run's first one (inside the run's creating transaction). */
export async function seedCheckpoint(
  tx: EntityManager,
  runId: string,
  source: Checkpoint,
  config: Hyperparameters,
): Promise<void> {
  const state = decodeCheckpoint(new Uint8Array(source.bytes));
  state.config = config;
  const bytes = encodeCheckpoint(state);
  tx.create(Checkpoint, {
    run: runId,
    iteration: source.iteration,
    globalStep: source.globalStep,
    bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    runnerStates: source.runnerStates,
    createdAt: new Date(),
  });
  await tx.flush();
  await tx.execute(`update "runs" set "iteration" = ?, "global_step" = ? where "id" = ?`, [
    source.iteration,
    source.globalStep,
    runId,
  ]);
}
