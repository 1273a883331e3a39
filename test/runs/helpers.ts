import type { Role } from "../../contracts/roles.ts";
import type { PublicMetricPoint, PublicRun } from "../../contracts/runs.ts";
import { decodeCheckpoint, encodeCheckpoint } from "../../rl/ppo/checkpoint.ts";
import { type PresetName, resolveHyperparameters } from "../../rl/ppo/hyperparameters.ts";
import { WALL_TIME_KEYS } from "../../rl/ppo/ppo-learner.ts";
import { PPOTrainer } from "../../rl/ppo/trainer.ts";
import { call } from "../../services/actions.ts";
import type { TestPlatform } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";

/** Shared by the runs tests: tiny CartPole runs, waiting for a run's state, and accounts of a given role. */
export const RUN_SERVICES = { SERVICES: "api,users,runs,workers", RUN_SCHEDULE_INTERVAL_MS: "100" } as const;

/** 4 envs × 32 steps = 128 steps per iteration; `iterations` of them. */
export function tinyRun(iterations: number, extra: Record<string, unknown> = {}) {
  return {
    env: "CartPole-v1",
    seed: 7,
    totalSteps: 128 * iterations,
    hyperparameters: { numEnvs: 4, numSteps: 32, numMinibatches: 2, updateEpochs: 2 },
    ...extra,
  };
}

export function getRun(api: TestPlatform, token: string, id: string): Promise<PublicRun> {
  return api.request<PublicRun>("GET", `/api/v1/runs/${id}`, { token }).then((r) => {
    if (r.status !== 200) throw new Error(`GET run ${id}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  });
}

export function waitForStatus(
  api: TestPlatform,
  token: string,
  id: string,
  statuses: readonly PublicRun["status"][],
  timeoutMs?: number,
): Promise<PublicRun> {
  return waitFor(
    () => getRun(api, token, id),
    (r) => statuses.includes(r.status),
    `run ${id} in ${statuses}`,
    timeoutMs,
  );
}

export async function metrics(
  api: TestPlatform,
  token: string,
  id: string,
  query = "",
): Promise<PublicMetricPoint[]> {
  const res = await api.request<{ points: PublicMetricPoint[] }>(
    "GET",
    `/api/v1/runs/${id}/metrics${query}`,
    { token },
  );
  if (res.status !== 200) throw new Error(`metrics ${id}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.points;
}

export async function launch(api: TestPlatform, token: string, body: unknown): Promise<PublicRun> {
  const res = await api.request<PublicRun>("POST", "/api/v1/runs", { token, body });
  if (res.status !== 201) throw new Error(`launch: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** A fresh account with `role` (set by the bootstrap admin), logged in. */
export async function accountWithRole(api: TestPlatform, role: Role): Promise<{ id: string; token: string }> {
  const account = await api.register();
  if (role !== "learner") {
    const admin = await api.loginAdmin();
    const res = await api.request("PATCH", `/api/v1/users/${account.user.id}`, {
      token: admin.accessToken,
      body: { role },
    });
    if (res.status !== 200) throw new Error(`role change: ${res.status}`);
  }
  const tokens = await api.login(account.email, account.password);
  return { id: account.user.id, token: tokens.accessToken };
}

/** Metrics without the keys that depend on wall time. */
export function deterministicPart(points: readonly PublicMetricPoint[]): unknown[] {
  return points.map((p) => {
    const m: Record<string, number | null> = {};
    for (const [k, v] of Object.entries(p.metrics))
      if (!k.startsWith("time/") && k !== "charts/SPS") m[k] = v;
    return { iteration: p.iteration, globalStep: p.globalStep, metrics: m };
  });
}

/**
 * Holds every worker slot of the platform (one process hosting `workers`) with an admin's run that
 * never ends by itself, until `release()` stops it: what a test launches meanwhile waits in queued,
 * so that it cannot have trained (or finished) before the test watches it, however slow the machine.
 * Runs of other tests of the file wait too: a test that holds the slots is best `test.serial`.
 */
export async function holdWorkerSlots(api: TestPlatform): Promise<{ release(): Promise<void> }> {
  const token = (await api.loginAdmin()).accessToken;
  // All of them: the holder starts once runs launched before it have left theirs.
  const { slots } = await call(api.platform.broker, "workers.status", {});
  const blocker = await launch(api, token, tinyRun(1_000_000, { resources: { runners: slots } }));
  const running = await waitFor(
    () => getRun(api, token, blocker.id),
    (r) => r.iteration >= 1 || r.status === "failed",
    "the slot holder to run",
  );
  if (running.status === "failed") throw new Error(`the slot holder failed: ${running.failureReason}`);
  return {
    async release() {
      const res = await api.request("POST", `/api/v1/runs/${blocker.id}/stop`, { token });
      if (res.status !== 200)
        throw new Error(`stop the slot holder: ${res.status} ${JSON.stringify(res.body)}`);
      await waitForStatus(api, token, blocker.id, ["stopped"]);
    },
  };
}

/** A metric point as `deterministicPart` gives it: wall-time keys left out, non-finite values null. */
export interface LocalPoint {
  iteration: number;
  globalStep: number;
  metrics: Record<string, number | null>;
}

/**
 * `proxima train`'s run of a launch body: PPOTrainer in this process with the body's env, preset
 * (cleanrl by default), hyperparameters, seed and steps. Its points compare with a platform run's
 * `deterministicPart`; the trainer is returned to evaluate or read its state (the caller disposes it).
 */
export async function trainLocally(body: {
  env: string;
  preset?: PresetName;
  seed: number;
  totalSteps: number;
  hyperparameters?: Record<string, unknown>;
}): Promise<{ trainer: PPOTrainer; points: LocalPoint[] }> {
  const trainer = await PPOTrainer.create({
    envId: body.env,
    config: resolveHyperparameters(body.env, body.preset ?? "cleanrl", {
      ...body.hyperparameters,
      totalTimesteps: body.totalSteps,
      seed: body.seed,
    }),
  });
  const points: LocalPoint[] = [];
  await trainer.train((m) => {
    const { iteration, global_step, ...rest } = m;
    const values: Record<string, number | null> = {};
    for (const [k, v] of Object.entries(rest))
      if (!(WALL_TIME_KEYS as readonly string[]).includes(k))
        values[k] = Number.isFinite(v) ? (v as number) : null;
    points.push({ iteration, globalStep: global_step, metrics: values });
  });
  return { trainer, points };
}

/**
 * Rewrites a run's stored checkpoints as checkpoints of `envId` (an env this build does not have, as
 * one written by a newer build could be), with a new write time as a rewrite has.
 */
export async function rewriteCheckpointEnv(api: TestPlatform, runId: string, envId: string): Promise<void> {
  const conn = api.platform.db.orm.em.fork().getConnection();
  const [row] = await conn.execute<{ bytes: Buffer }[]>("select bytes from checkpoints where run_id = ?", [
    runId,
  ]);
  const state = decodeCheckpoint(new Uint8Array(row!.bytes));
  const bytes = Buffer.from(encodeCheckpoint({ ...state, envId }));
  await conn.execute("update checkpoints set bytes = ?, created_at = now() where run_id = ?", [bytes, runId]);
}
