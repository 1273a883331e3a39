import pg from "pg";
import type { PublicRun } from "../../contracts/runs.ts";
import type { SweepWithTrials } from "../../contracts/sweeps.ts";
import type { TestPlatform } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";
import { getRun } from "../runs/helpers.ts";

/** Shared by the sweeps tests: a platform hosting sweeps, tiny trial runs, polling, run intervals. */
export const SWEEP_SERVICES = {
  SERVICES: "api,users,runs,workers,sweeps",
  RUN_SCHEDULE_INTERVAL_MS: "100",
  SWEEP_POLL_MS: "100",
  WORKER_SLOTS: "2",
} as const;

/** A grid over tiny CartPole runs: 4 envs × 32 steps = 128 steps per iteration, `iterations` of them. */
export function tinySweep(iterations: number, extra: Record<string, unknown> = {}) {
  return {
    name: "tiny grid",
    env: "CartPole-v1",
    totalSteps: 128 * iterations,
    hyperparameters: { numEnvs: 4, numSteps: 32, numMinibatches: 2, updateEpochs: 2 },
    searchSpace: { learningRate: { values: [1e-3, 3e-4] }, clipCoef: { values: [0.1, 0.2] } },
    maxTrials: 4,
    maxConcurrent: 2,
    ...extra,
  };
}

export async function createSweep(api: TestPlatform, token: string, body: unknown): Promise<SweepWithTrials> {
  const res = await api.request<SweepWithTrials>("POST", "/api/v1/sweeps", { token, body });
  if (res.status !== 201) throw new Error(`create sweep: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function getSweep(api: TestPlatform, token: string, id: string): Promise<SweepWithTrials> {
  const res = await api.request<SweepWithTrials>("GET", `/api/v1/sweeps/${id}`, { token });
  if (res.status !== 200) throw new Error(`GET sweep ${id}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export function waitForSweep(
  api: TestPlatform,
  token: string,
  id: string,
  statuses: readonly SweepWithTrials["status"][],
  timeoutMs = 120_000,
): Promise<SweepWithTrials> {
  return waitFor(
    () => getSweep(api, token, id),
    (s) => statuses.includes(s.status),
    `sweep ${id} in ${statuses}`,
    timeoutMs,
  );
}

/** Every run of a user, straight from the database (created, started, finished), for accounting. */
export async function runsOf(
  databaseUrl: string,
  ownerId: string,
): Promise<(Pick<PublicRun, "id" | "status"> & { createdAt: Date; finishedAt: Date | null })[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const r = await client.query(
      `select id, status, created_at, finished_at from runs where owner_id = $1 order by created_at`,
      [ownerId],
    );
    return r.rows.map((x) => ({
      id: x.id,
      status: x.status,
      createdAt: x.created_at,
      finishedAt: x.finished_at,
    }));
  } finally {
    await client.end();
  }
}

/**
 * The most runs alive at once: each run is alive from its creation to its end (its `finished_at`,
 * written when it stopped, completed or failed). Ends sort before starts at the same instant.
 */
export function maxOverlap(runs: readonly { createdAt: Date; finishedAt: Date | null }[]): number {
  const events: [number, number][] = [];
  for (const r of runs) {
    events.push([r.createdAt.getTime(), 1]);
    events.push([r.finishedAt?.getTime() ?? Number.POSITIVE_INFINITY, -1]);
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, d] of events) {
    now += d;
    most = Math.max(most, now);
  }
  return most;
}

/**
 * A grid of two trials named after `name` that train until stopped, once the first trial's run
 * exists: the sweep and that run.
 */
export async function sweepWithFirstRun(
  api: TestPlatform,
  token: string,
  name: string,
): Promise<{ sweep: SweepWithTrials; firstRun: PublicRun }> {
  const sweep = await createSweep(
    api,
    token,
    tinySweep(1000, { name, searchSpace: { learningRate: { values: [1e-3, 3e-4] } }, maxTrials: 2 }),
  );
  const runId = sweep.trials.find((x) => x.index === 0)!.runId;
  const firstRun = await waitFor(
    () => getRun(api, token, runId).catch(() => null),
    (r) => r !== null,
    "the first trial's run",
  );
  return { sweep, firstRun: firstRun! };
}
