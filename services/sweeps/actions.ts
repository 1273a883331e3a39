import { z } from "zod";
import { SWEEP_STATUSES, type SweepStatus } from "../../contracts/sweep-status.ts";
import type { PublicSweep, PublicTrial, SweepWithTrials } from "../../contracts/sweeps.ts";
import { CallerParams, defineActions, returns } from "../action.ts";

/** A sweep's id and who asks about it. */
const SweepCaller = CallerParams.extend({ sweepId: z.uuid() });

/** The sweeps service's actions (sweeps.service.ts): what each takes and gives. */
export const SWEEPS_ACTIONS = defineActions({
  /** `definition` is validated by the service as a whole (sweeps/definition.ts), naming the offending key. */
  create: {
    params: CallerParams.extend({ definition: z.unknown() }),
    result: returns<SweepWithTrials>(),
  },
  list: {
    params: CallerParams.extend({
      status: z.enum(SWEEP_STATUSES).optional(),
      limit: z.number().int().min(1).max(100).optional(),
    }),
    result: returns<{ items: PublicSweep[] }>(),
  },
  get: { params: SweepCaller, result: returns<SweepWithTrials>() },
  /** For the WebSocket hub: whether the user may watch the sweep, and where it stands. */
  visible: {
    params: SweepCaller,
    result: returns<{ ownerId: string; status: SweepStatus; trials: PublicTrial[] }>(),
  },
  results: { params: SweepCaller, result: returns<{ name: string; csv: string }>() },
  /** A running sweep is asked to stop: its actor stops every trial's run, then marks it stopped. */
  stop: { params: SweepCaller, result: returns<PublicSweep>() },
  /** A stopped sweep runs again on this node: its stopped trials resume, its pending ones start. */
  resume: { params: SweepCaller, result: returns<PublicSweep>() },
  /** On the hosting node: the sweep's row changed (a stop request), its actor looks again now. */
  wake: { params: z.object({ sweepId: z.uuid() }), result: returns<{ hosted: boolean }>() },
});
