import { z } from "zod";

/**
 * Every setting Proxima reads from the environment, parsed once. The README's configuration table
 * mirrors this schema; keep them in step.
 */
const csv = z.string().transform((s) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x.length > 0),
);

/** A boolean switch: "true"/"1" or "false"/"0" (default off); anything else is a configuration error. */
const flag = z
  .enum(["true", "false", "1", "0"])
  .default("false")
  .transform((v) => v === "true" || v === "1");

/** A flag that is on unless set otherwise. */
const flagOn = z
  .enum(["true", "false", "1", "0"])
  .default("true")
  .transform((v) => v === "true" || v === "1");

/**
 * One limit of a role's quota (services/runs/quotas.ts reads them; the README's table lists them): a
 * positive integer. Anything else (0, -1, 1.5, "ten", empty) stops the process at start, naming the
 * variable, rather than locking every user of the role out at their first request.
 */
const POSITIVE = "must be a positive integer";
const limit = (d: number) =>
  z.coerce
    .number({ error: POSITIVE })
    .int({ error: POSITIVE })
    .min(1, { error: POSITIVE })
    .max(Number.MAX_SAFE_INTEGER, { error: `must be at most ${Number.MAX_SAFE_INTEGER}` })
    .default(d);

/**
 * Quotas by role, `QUOTA_<ROLE>_<LIMIT>`: what one user of the role may ask of the cluster. The
 * compute limits are per run (parameters) or per PPO iteration (gradient steps, samples, FLOPs, the
 * latter an estimate: services/runs/compute.ts); the concurrent ones count a user's active runs and
 * sweeps (429 beyond). The defaults let learners run every preset and the README's examples, and
 * refuse what froze a process in the issue 15 attack pass (hiddenSizes [4096, 4096]; 512 minibatches
 * × 1000 epochs).
 */
const QuotaSettings = {
  QUOTA_LEARNER_CONCURRENT_RUNS: limit(2),
  QUOTA_LEARNER_RUNNERS_PER_RUN: limit(2),
  QUOTA_LEARNER_TOTAL_STEPS: limit(1_000_000),
  QUOTA_LEARNER_GPU: flag,
  QUOTA_LEARNER_SUBMISSIONS_PER_MINUTE: limit(10),
  QUOTA_LEARNER_PARAMETERS: limit(1_000_000),
  QUOTA_LEARNER_GRADIENT_STEPS: limit(2_048),
  QUOTA_LEARNER_SAMPLES_PER_ITERATION: limit(65_536),
  QUOTA_LEARNER_FLOPS_PER_ITERATION: limit(1e11),
  QUOTA_RESEARCHER_CONCURRENT_RUNS: limit(16),
  QUOTA_RESEARCHER_RUNNERS_PER_RUN: limit(32),
  QUOTA_RESEARCHER_TOTAL_STEPS: limit(100_000_000),
  QUOTA_RESEARCHER_GPU: flagOn,
  QUOTA_RESEARCHER_SUBMISSIONS_PER_MINUTE: limit(20),
  QUOTA_RESEARCHER_PARAMETERS: limit(10_000_000),
  QUOTA_RESEARCHER_GRADIENT_STEPS: limit(100_000),
  QUOTA_RESEARCHER_SAMPLES_PER_ITERATION: limit(1_048_576),
  QUOTA_RESEARCHER_FLOPS_PER_ITERATION: limit(1e13),
  QUOTA_RESEARCHER_CONCURRENT_SWEEPS: limit(4),
  QUOTA_ADMIN_CONCURRENT_RUNS: limit(64),
  QUOTA_ADMIN_RUNNERS_PER_RUN: limit(256),
  QUOTA_ADMIN_TOTAL_STEPS: limit(10_000_000_000),
  QUOTA_ADMIN_GPU: flagOn,
  QUOTA_ADMIN_SUBMISSIONS_PER_MINUTE: limit(60),
  QUOTA_ADMIN_PARAMETERS: limit(100_000_000),
  QUOTA_ADMIN_GRADIENT_STEPS: limit(1_000_000),
  QUOTA_ADMIN_SAMPLES_PER_ITERATION: limit(16_777_216),
  QUOTA_ADMIN_FLOPS_PER_ITERATION: limit(1e15),
  QUOTA_ADMIN_CONCURRENT_SWEEPS: limit(16),
};

/** A role's weight in fair share: a positive number (anything else is refused at start, by name). */
const weight = z.coerce.number().positive().max(1_000_000).default(1);

/**
 * Fair share of the worker pools (actors/fair-share.ts): a queued run's owner's share is the slots
 * the owner's runs hold ÷ the weight of the owner's role (FAIRSHARE_WEIGHT_<ROLE>); the smallest share
 * gets the next free slots. A run that has waited FAIRSHARE_RESERVE_AFTER_MS without fitting keeps
 * the slots that free up until it fits, instead of letting smaller runs behind it pass.
 */
const FairShareSettings = {
  FAIRSHARE_WEIGHT_LEARNER: weight,
  FAIRSHARE_WEIGHT_RESEARCHER: weight,
  FAIRSHARE_WEIGHT_ADMIN: weight,
  FAIRSHARE_RESERVE_AFTER_MS: z.coerce.number().int().min(0).default(600_000),
};

const ConfigFields = z.object({
  ...QuotaSettings,
  ...FairShareSettings,
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default("127.0.0.1"),
  /** Which Moleculer services this process hosts. */
  SERVICES: csv.default(["all"]),
  NODE_ID: z.string().optional(),
  /** NATS transporter; unset means one local process. */
  NATS_URL: z.string().optional(),
  /** PostgreSQL; unset means the embedded server under PROXIMA_DATA_DIR. */
  DATABASE_URL: z.string().optional(),
  PROXIMA_DATA_DIR: z.string().default(".data"),
  EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  JWT_SECRET: z.string().min(32, "JWT_SECRET must be at least 32 characters").optional(),
  JWT_ISSUER: z.string().default("proxima"),
  JWT_AUDIENCE: z.string().default("proxima-api"),
  ACCESS_TOKEN_TTL_S: z.coerce.number().int().min(30).max(3600).default(900),
  /**
   * How long an API node may answer from its cached account state (disabled, role) when no
   * `users.changed` event told it otherwise; bounded by the access token's own floor.
   */
  AUTH_STATE_CACHE_TTL_S: z.coerce.number().int().min(1).max(300).default(60),
  REFRESH_TOKEN_TTL_S: z.coerce
    .number()
    .int()
    .min(60)
    .default(30 * 24 * 3600),
  PROXIMA_ADMIN_EMAIL: z.string().optional(),
  PROXIMA_ADMIN_PASSWORD: z.string().optional(),
  CORS_ORIGINS: csv.default([]),
  BODY_LIMIT: z.string().default("1mb"),
  /** Trust X-Forwarded-For/-Proto from a reverse proxy (an ingress); off when clients connect directly. */
  TRUST_PROXY: flag,
  /** General per-user API limit (requests per minute, per API process). */
  API_RATE_LIMIT_PER_MIN: z.coerce.number().int().min(1).default(1200),
  /** Failed logins per (account, client address) per window; beyond, 429 for that client only. */
  LOGIN_MAX_FAILURES_PER_ACCOUNT: z.coerce.number().int().min(1).default(10),
  /** Failed logins per account from any client per window; beyond, 429 for clients it does not know. */
  LOGIN_MAX_FAILURES_PER_ACCOUNT_GLOBAL: z.coerce.number().int().min(1).default(100),
  /** Failed logins per client address across accounts per window (known clients exempt). */
  LOGIN_MAX_FAILURES_PER_IP: z.coerce.number().int().min(1).default(100),
  LOGIN_FAILURE_WINDOW_S: z.coerce.number().int().min(1).default(900),
  /**
   * Password hashes (logins, registrations) one users process computes at once; more wait in a queue
   * of PASSWORD_HASH_QUEUE for at most PASSWORD_HASH_MAX_WAIT_MS, beyond which a request gets 503 with
   * Retry-After (services/users/hash-gate.ts). Default 4: libuv's thread pool, where argon2 runs.
   */
  PASSWORD_HASH_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(4),
  PASSWORD_HASH_QUEUE: z.coerce.number().int().min(0).max(100_000).default(200),
  PASSWORD_HASH_MAX_WAIT_MS: z.coerce.number().int().min(1).default(10_000),
  /** Who may create an account: anyone, holders of an admin's invite code, or only admins. */
  REGISTRATION: z.enum(["open", "invite", "closed"]).default("open"),
  /** Registrations one client address may try per hour (429 beyond). */
  REGISTRATIONS_PER_IP_PER_HOUR: z.coerce.number().int().min(1).default(20),
  /** How long an address that logged in to an account stays a known client of it (skips the global budget). */
  LOGIN_KNOWN_CLIENT_TTL_S: z.coerce
    .number()
    .int()
    .min(60)
    .default(30 * 24 * 3600),
  /** Open WebSockets one user may hold on one API process (429 naming this setting beyond). */
  WS_MAX_CONNECTIONS_PER_USER: z.coerce.number().int().min(1).default(20),
  /** WebSocket upgrades one user may make per minute, per API process (a burst of as many, then evenly). */
  WS_UPGRADES_PER_MIN_PER_USER: z.coerce.number().int().min(1).default(60),
  /** Failed WebSocket authentications per client address per minute; beyond, its upgrades get 429. */
  WS_FAILED_UPGRADES_PER_MIN_PER_IP: z.coerce.number().int().min(1).default(30),
  REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  PROXIMA_BACKEND: z.enum(["wasm", "cpu", "tensorflow", "webgpu"]).default("wasm"),
  /** Moleculer namespace: brokers on one NATS server see only those of their namespace. */
  MOLECULER_NAMESPACE: z.string().min(1).default("proxima"),
  /** Env runners this process may host (workers service); default: one per core. */
  WORKER_SLOTS: z.coerce.number().int().min(0).max(1024).optional(),
  /** Whether this worker node offers a GPU to runs that ask for one. */
  WORKER_GPU: flag,
  /**
   * Port of the internal probe and metrics endpoint (/healthz, /readyz, /metrics; lib/health-server.ts)
   * of any process, the API's included (its HTTP metrics too); unset: none. The chart and the image set 9090.
   */
  HEALTH_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /**
   * A bearer token that `/metrics` on the API port asks for. Unset: the API port serves /metrics
   * openly outside production and not at all in production (scrape HEALTH_PORT there).
   */
  METRICS_TOKEN: z.string().min(16, "METRICS_TOKEN must be at least 16 characters").optional(),
  /** How long a runs node's lease on a run lasts without renewal. */
  RUN_LEASE_TTL_MS: z.coerce.number().int().min(1000).default(30_000),
  /** How often a queued run retries reserving env runners, and a runs node rescans its leases. */
  RUN_SCHEDULE_INTERVAL_MS: z.coerce.number().int().min(10).default(2_000),
  /** A run writes a checkpoint every this many iterations (and always at its end). */
  RUN_CHECKPOINT_EVERY: z.coerce.number().int().min(1).default(10),
  /** Episodes of the deterministic evaluation a completed run records (0: none). */
  RUN_EVAL_EPISODES: z.coerce.number().int().min(0).max(1000).default(10),
  /**
   * Memory cap of one run's learner thread, MiB: its network buffers (θ, gradients, Adam's moments,
   * activations) may reserve this much, and its V8 heap is capped at it too. Beyond, the run fails
   * with the reason; the process that hosts it does not.
   */
  RUN_LEARNER_MEMORY_MB: z.coerce.number().int().min(16).max(1_048_576).default(1024),
  /** How often a sweep looks at its trials' runs and curves (ASHA decides at most this late). */
  SWEEP_POLL_MS: z.coerce.number().int().min(10).default(500),
  /** Sandbox child processes of a submissions node; default one per core but one, at least 1. */
  SUBMISSIONS_POOL_SIZE: z.coerce.number().int().min(1).max(64).optional(),
  /** Largest submitted code, in UTF-8 bytes (413 beyond). */
  SUBMISSION_MAX_CODE_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024)
    .default(64 * 1024),
  /** Submissions of one user queued or being graded at once (429 beyond). */
  SUBMISSIONS_CONCURRENT_PER_USER: z.coerce.number().int().min(1).default(2),
  /** Memory of the isolate that runs an environment defined by code, per env runner (MiB). */
  CODE_ENV_MEMORY_MB: z.coerce.number().int().min(8).max(4096).default(64),
  /**
   * CPU time one crossing into an environment defined by code may take (a vector step of all its
   * sub-envs, a reset); beyond it the env has failed and so has its run.
   */
  CODE_ENV_CALL_CPU_MS: z.coerce.number().int().min(10).max(60_000).default(1000),
  /**
   * Resident memory of one env session's whole process (Node, isolated-vm, the isolate), MiB: checked
   * after every crossing, in env checks and on env runners alike.
   */
  CODE_ENV_PROCESS_MEMORY_MB: z.coerce.number().int().min(128).max(65_536).default(512),
  /**
   * What an environment defined by code may declare: checked when it is graded and again when a run
   * (or a sweep) starts on it, so that lowering one refuses the envs already passed above it.
   */
  CODE_ENV_MAX_DISCRETE_ACTIONS: z.coerce
    .number()
    .int()
    .min(2)
    .max(2 ** 31 - 1)
    .default(1024),
  CODE_ENV_MAX_OBSERVATION_SIZE: z.coerce.number().int().min(1).max(10_000).default(1024),
  CODE_ENV_MAX_ACTION_SIZE: z.coerce.number().int().min(1).max(10_000).default(64),
  /**
   * The whole check of one environment submission (all its crossings together), in isolate CPU time
   * and in wall-clock time; past either, the check stops and says so.
   */
  SUBMISSIONS_ENV_CHECK_CPU_MS: z.coerce.number().int().min(10).max(3_600_000).default(30_000),
  SUBMISSIONS_ENV_CHECK_WALL_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
  /** Environment checks one submissions node runs at once (each in its own sandbox process). */
  SUBMISSIONS_ENV_CHECKS_CONCURRENT: z.coerce.number().int().min(1).max(64).default(2),
  /** How often a submissions node looks for unfinished submissions of nodes that are gone. */
  SUBMISSIONS_RECOVERY_INTERVAL_MS: z.coerce.number().int().min(100).default(15_000),
  /** Runner failures (death, timeout, drain) one iteration may absorb before the run is failed. */
  RUN_RUNNER_FAILURES_PER_ITERATION: z.coerce.number().int().min(0).default(20),
  /** How long a retried `POST /runs` with the same Idempotency-Key gets the same run back. */
  IDEMPOTENCY_KEY_TTL_S: z.coerce
    .number()
    .int()
    .min(60)
    .default(24 * 3600),
  /**
   * Moleculer heartbeats: a node silent for HEARTBEAT_TIMEOUT_S (killed, cut off) is dropped. Moleculer
   * beats every interval ± 0.5 s (a random offset fixed per process, registry/discoverers/base.js):
   * under 1 s the offset can bring the period to nothing.
   */
  HEARTBEAT_INTERVAL_S: z.coerce
    .number()
    .min(1, "must be at least 1 (Moleculer adds up to ±0.5 s to it)")
    .default(5),
  /** At least 2 × (interval + 0.5): the check after the fields. */
  HEARTBEAT_TIMEOUT_S: z.coerce.number().default(15),
  /** A drain (SIGTERM) that has not finished after this long exits anyway (under Kubernetes' 30 s grace). */
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).default(25_000),
});

const ConfigSchema = ConfigFields.check((ctx) => {
  // A node is dropped after one timeout without a beat, and its beats are up to interval + 0.5 s
  // apart: a timeout under two such periods drops a live node for one late beat (a GC pause, a
  // busy core), and every caller gets 503s until its next beat brings it back.
  const { HEARTBEAT_INTERVAL_S: interval, HEARTBEAT_TIMEOUT_S: timeout } = ctx.value;
  const least = 2 * (interval + 0.5);
  if (timeout < least)
    ctx.issues.push({
      code: "custom",
      path: ["HEARTBEAT_TIMEOUT_S"],
      message: `must be at least 2 × (HEARTBEAT_INTERVAL_S + 0.5) = ${least} s, so that one late beat does not drop a live node`,
      input: timeout,
    });
});

export type Config = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Settings that were replaced: a deployment that still sets one is refused with the new name, rather
 * than silently running on the default of the setting that replaced it.
 */
const REPLACED: Readonly<Record<string, string>> = {
  SUBMISSIONS_PER_MINUTE: "a quota of each role now: QUOTA_<ROLE>_SUBMISSIONS_PER_MINUTE",
};

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = ConfigSchema.safeParse(env);
  const replaced = Object.keys(REPLACED)
    .filter((name) => env[name] !== undefined)
    .map((name) => `${name}: ${REPLACED[name]}`);
  if (!parsed.success || replaced.length > 0) {
    const lines = [
      ...(parsed.error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`) ?? []),
      ...replaced,
    ];
    throw new ConfigError(`invalid configuration:\n  ${lines.join("\n  ")}`);
  }
  return parsed.data;
}
