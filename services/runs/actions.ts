import { z } from "zod";
import type { RunReplay } from "../../contracts/replay.ts";
import { RUN_STATUSES, type RunStatus } from "../../contracts/run-status.ts";
import {
  type PublicMetricPoint,
  type PublicRun,
  RunTagSchema,
  TRIAL_FILTERS,
  UpdateRunInput,
} from "../../contracts/runs.ts";
import { CallerParams, defineActions, returns } from "../action.ts";
import type { listRuns } from "./records.ts";
import { CreateRunInput } from "./schemas.ts";

/** A run's id and who asks about it. */
const RunCaller = CallerParams.extend({ runId: z.uuid() });

/** A run's creation: the API's body, who asks, and (for a sweep's trial, never from the API) its id and sweep. */
const CreateRunParams = CallerParams.extend(CreateRunInput.shape).extend({
  id: z.uuid().optional(),
  sweep: z.object({ id: z.uuid(), trialIndex: z.number().int().min(0) }).optional(),
});

/** A checkpoint or policy download. */
interface RunBlob {
  runId: string;
  iteration: number;
  globalStep: number;
  bytes: Uint8Array;
}

/** The runs service's actions (runs.service.ts): what each takes and gives. */
export const RUNS_ACTIONS = defineActions({
  create: { params: CreateRunParams, result: returns<PublicRun>() },
  /**
   * `create` under an Idempotency-Key: the same key and body give the same run (`replayed`), the
   * same key with another body a 422, and while the first request is in flight a 409.
   */
  createOnce: {
    params: CreateRunParams.extend({ idempotencyKey: z.string().min(1).max(255) }),
    result: returns<{ run: PublicRun; replayed: boolean }>(),
  },
  list: {
    params: CallerParams.extend({
      status: z.enum(RUN_STATUSES).optional(),
      env: z.string().optional(),
      tag: RunTagSchema.optional(),
      q: z.string().max(200).optional(),
      trials: z.enum(TRIAL_FILTERS).optional(),
      sweepId: z.uuid().optional(),
      limit: z.number().int().min(1).max(100).optional(),
      cursor: z.string().optional(),
    }),
    result: returns<Awaited<ReturnType<typeof listRuns>>>(),
  },
  get: { params: RunCaller, result: returns<PublicRun>() },
  /** Name, tags, notes: the fields given change, the others keep their value. */
  update: { params: RunCaller.extend({ changes: UpdateRunInput }), result: returns<PublicRun>() },
  /** For the WebSocket hub: whether the user may watch the run, and where it stands. */
  visible: {
    params: RunCaller,
    result: returns<{ ownerId: string; status: RunStatus; iteration: number }>(),
  },
  stop: { params: RunCaller, result: returns<PublicRun>() },
  /** `bySweep`: the sweep that launched the run resumes its trial (a trial is refused to anyone else). */
  resume: { params: RunCaller.extend({ bySweep: z.boolean().optional() }), result: returns<PublicRun>() },
  delete: { params: RunCaller, result: returns<{ deleted: boolean }>() },
  metrics: {
    params: RunCaller.extend({
      fromIteration: z.number().int().min(0).optional(),
      maxPoints: z.number().int().min(1).max(10_000).optional(),
    }),
    result: returns<{ runId: string; points: PublicMetricPoint[] }>(),
  },
  /**
   * For an export: the metric keys of the run's points up to its last iteration now (sorted), read
   * once so that every page of the export has the same columns.
   */
  metricKeys: {
    params: RunCaller,
    result: returns<{ runId: string; keys: string[]; lastIteration: number }>(),
  },
  /** One page of an export: up to `limit` points from `fromIteration` to `toIteration`, in order. */
  metricsPage: {
    params: RunCaller.extend({
      fromIteration: z.number().int().min(0),
      toIteration: z.number().int().min(0),
      limit: z.number().int().min(1).max(5000),
    }),
    result: returns<{ points: PublicMetricPoint[] }>(),
  },
  /** The latest checkpoint as rl's single-blob format (`encodeCheckpoint`). */
  checkpoint: { params: RunCaller, result: returns<RunBlob>() },
  /** The latest checkpoint's deterministic policy as an ONNX model (rl/export/onnx.ts). */
  policyOnnx: { params: RunCaller, result: returns<RunBlob>() },
  /**
   * Evaluation episode `episode` of the latest checkpoint's deterministic policy, recorded for
   * drawing (services/runs/replays.ts); 409 while the run has no checkpoint.
   */
  replay: {
    params: RunCaller.extend({ episode: z.number().int().min(0).max(999).optional() }),
    result: returns<RunReplay>(),
  },
  /** On the hosting node: a run's row changed (stop request), a waiting actor looks again now. */
  wake: { params: z.object({ runId: z.uuid() }), result: returns<{ hosted: boolean }>() },
  /** On the hosting node: ends the run's actor after its current message, releasing its runners. */
  deactivate: { params: z.object({ runId: z.uuid() }), result: returns<{ deactivated: boolean }>() },
});
