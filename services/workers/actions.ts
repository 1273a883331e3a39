import { z } from "zod";
import type { RunnerSample } from "../../actors/env-runner.ts";
import type { WorkerStatus } from "../../contracts/workers.ts";
import type { EnvRunnerSpec } from "../../rl/ppo/distributed.ts";
import type { NormalizationState } from "../../rl/ppo/normalize.ts";
import type { RolloutCollectorState } from "../../rl/ppo/rollout.ts";
import { defineActions, returns } from "../action.ts";

/** An object that the receiving code checks itself (an env runner's spec and state, built by rl/). */
const objectOf = <T>() => z.custom<T>((v) => typeof v === "object" && v !== null, "expected an object");

/** The workers service's actions (workers.service.ts): what each takes and gives. */
export const WORKERS_ACTIONS = defineActions({
  /**
   * This node's capacity and runners. Asked on behalf of a run's host (`runId`, `ownerNode`), the
   * runners this node still holds for the run's previous host are freed first when they are orphans.
   */
  status: {
    params: z.object({
      runId: z.uuid().optional(),
      ownerNode: z.string().optional(),
      epoch: z.number().int().min(0).optional(),
    }),
    result: returns<WorkerStatus>(),
  },
  /** Every worker node's status (for the API), asked of each node. */
  list: { params: z.object({}), result: returns<WorkerStatus[]>() },
  /**
   * Reserves up to `count` runner slots for a run; grants what is free (the caller decides). With
   * `share`, a full node that already hosts a runner of the run grants one more runner in that slot.
   */
  reserve: {
    params: z.object({
      runId: z.uuid(),
      ownerNode: z.string(),
      /** The lease epoch of the run's activation that reserves (absent: any activation on ownerNode). */
      epoch: z.number().int().min(0).optional(),
      count: z.number().int().min(1).max(1024),
      gpu: z.boolean().optional(),
      share: z.boolean().optional(),
    }),
    result: returns<{ runnerIds: string[]; shared?: boolean }>(),
  },
  /** Builds a reserved runner's envs and collector (from a checkpointed state when given). */
  init: {
    params: z.object({
      runnerId: z.uuid(),
      spec: objectOf<EnvRunnerSpec>(),
      state: objectOf<RolloutCollectorState>().optional(),
    }),
    result: returns<{ ok: boolean }>(),
  },
  /** One rollout with the weights sent (binary Float32Array); trajectories come back as typed arrays. */
  sample: {
    params: z.object({
      runnerId: z.uuid(),
      version: z.number().int(),
      policy: z.custom<Float32Array>((v) => v instanceof Float32Array, "policy must be a Float32Array"),
      normalization: objectOf<NormalizationState>().nullable().optional(),
    }),
    result: returns<RunnerSample>(),
  },
  /** Frees a run's runners (all of them, or those named). */
  release: {
    params: z.object({ runId: z.uuid(), runnerIds: z.array(z.string()).optional() }),
    result: returns<{ released: number }>(),
  },
});
