import test from "ava";
import fc from "fast-check";
import { API_PREFIX } from "../../api/app.ts";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.ts";
import { BOUNDARY_NUMBERS, type Hints } from "./arbitraries.ts";
import { apiRoutes, type FuzzRequest, type KnownIds, type Principal, requestFor } from "./requests.ts";

/**
 * Every route, fed requests generated from its own zod schemas (valid, boundary and hostile values,
 * raw bodies, ids that are not ids, malformed cursors) by every kind of caller: no answer may be a
 * 5xx, and the process must still answer /healthz and /me afterwards (issue 15, finding 7).
 *
 * FUZZ_RUNS sets the number of requests (default 3,000; `npm run fuzz` sends 30,000 with a fresh
 * seed, FUZZ_SEED=random); a failure prints its seed and path: FUZZ_SEED=… FUZZ_PATH=… replays it, FUZZ_SHRINK=1 shrinks it to a
 * smallest failing request. No worker slots: runs that the fuzz creates stay queued and cost nothing;
 * submissions are bounded by the per-user quotas.
 */
const RUNS = Number(process.env["FUZZ_RUNS"] ?? 3000);
/** CI replays one fixed seed (a green run stays green); `npm run fuzz` draws a new one each time. */
const DEFAULT_SEED = 20261206;
const SEED =
  process.env["FUZZ_SEED"] === "random"
    ? (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0
    : Number(process.env["FUZZ_SEED"] ?? DEFAULT_SEED);

/** FUZZ_COLLECT=1: go on after a 5xx and list them all at the end (for fixing, not for CI). */
const COLLECT = process.env["FUZZ_COLLECT"] === "1";

const OVERRIDES = {
  SERVICES: "api,users,runs,workers,submissions,sweeps,tickets",
  WORKER_SLOTS: "0",
  API_RATE_LIMIT_PER_MIN: "100000000",
  REQUEST_TIMEOUT_MS: "30000",
  // A long `npm run fuzz` outlasts the default 15 minutes of the principals' access tokens.
  ACCESS_TOKEN_TTL_S: "3600",
};

let platform: TestPlatform | undefined;
const api = () => platform!;
test.after.always(async () => {
  await platform?.stop();
});

const RUN_BODY = {
  env: "CartPole-v1",
  totalSteps: 64,
  hyperparameters: { numEnvs: 2, numSteps: 16, hiddenSizes: [8] },
};

const hints: Hints = {
  email: fc.oneof(fc.emailAddress(), fc.constantFrom("a\u0000@example.org", "x@\ud800.org")),
  password: fc.constantFrom(
    "a long enough passphrase",
    "pass\u0000phrase long enough",
    "\ud800 long enough passphrase",
  ),
  env: fc.constantFrom(
    "CartPole-v1",
    "Pendulum-v1",
    "MountainCar-v0",
    "custom:00000000-0000-4000-8000-000000000000",
  ),
  totalSteps: fc.integer({ min: 1, max: 256 }),
  maxTrials: fc.integer({ min: 2, max: 3 }),
  seeds: fc.constantFrom([1], [1, 2]),
  method: fc.constantFrom("grid", "random"),
  metric: fc.constant("charts/episodic_return"),
  earlyStopping: fc.constant({ type: "asha", gracePeriod: 16 }),
  pbt: fc.constant({ perturbationInterval: 16 }),
  resources: fc.constantFrom({ runners: 1 }, {}),
  maxConcurrent: fc.integer({ min: 1, max: 2 }),
  hyperparameters: fc.constantFrom(
    {},
    RUN_BODY.hyperparameters,
    { learningRate: 1e-3, numEnvs: 2, numSteps: 8, numMinibatches: 2, updateEpochs: 1, hiddenSizes: [4] },
    { numEnvs: 2 ** 53, numSteps: -1 },
    { hiddenSizes: [2 ** 53] },
    { learningRate: "\u0000" },
  ),
  searchSpace: fc.oneof(
    fc.constantFrom(
      { learningRate: { loguniform: [1e-4, 1e-2] } },
      { learningRate: { uniform: [-1e308, 1e308] } },
      { learningRate: { quniform: [0, 1, 5e-324] } },
      { updateEpochs: { values: [1, 2] } },
      { numMinibatches: { choice: [1, 2, "\u0000"] } },
      { gamma: { values: [] } },
    ),
    fc
      .tuple(fc.constantFrom(...BOUNDARY_NUMBERS), fc.constantFrom(...BOUNDARY_NUMBERS))
      .map(([low, high]) => ({ updateEpochs: { randint: [low, high] } })),
  ),
  name: fc.oneof(
    fc.constantFrom("a\u0000b", "\ud800", "ok name"),
    fc.string({ minLength: 1, maxLength: 30 }),
  ),
};

interface Session {
  tokens: Partial<Record<Principal, string>>;
  known: KnownIds;
}

let session: Session;

async function ok<T>(res: Promise<{ status: number; body: T }>, expected: number): Promise<T> {
  const r = await res;
  if (r.status !== expected) throw new Error(`setup request gave ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

test.before(async () => {
  platform = await startTestPlatform(null, OVERRIDES);
  const p = api();
  const learner = await p.learner();
  const researcher = await p.learner();
  const victim = await p.register();
  const admin = await p.loginAdmin();
  await ok(
    p.request("PATCH", `${API_PREFIX}/users/${researcher.user.id}`, {
      token: admin.accessToken,
      body: { role: "researcher" },
    }),
    200,
  );
  const researcherTokens = await p.login(researcher.email, researcher.password);
  const runs: string[] = [];
  for (const token of [learner.tokens.accessToken, researcherTokens.accessToken]) {
    const run = await ok(
      p.request<{ id: string }>("POST", `${API_PREFIX}/runs`, { token, body: RUN_BODY }),
      201,
    );
    runs.push(run.id);
  }
  const page = await ok(
    p.request<{ nextCursor: string | null }>("GET", `${API_PREFIX}/runs?limit=1`, {
      token: admin.accessToken,
    }),
    200,
  );
  const exercises = await ok(
    p.request<{ items: { id: string }[] } | { id: string }[]>("GET", `${API_PREFIX}/exercises`, {
      token: learner.tokens.accessToken,
    }),
    200,
  );
  const exerciseIds = (Array.isArray(exercises) ? exercises : exercises.items).map((e) => e.id);
  session = {
    tokens: {
      learner: learner.tokens.accessToken,
      researcher: researcherTokens.accessToken,
      admin: admin.accessToken,
      forged: `${learner.tokens.accessToken.slice(0, -4)}AAAA`,
    },
    known: {
      runs,
      sweeps: [],
      submissions: [],
      users: [victim.user.id, researcher.user.id],
      exercises: exerciseIds,
      cursors: page.nextCursor ? [page.nextCursor] : [],
    },
  };
});

interface Outcome {
  status: number;
  body: string;
}

async function send(url: string, req: FuzzRequest): Promise<Outcome> {
  const headers: Record<string, string> = { ...req.headers };
  const token = req.principal === "anonymous" ? undefined : session.tokens[req.principal];
  if (token) headers["authorization"] = `Bearer ${token}`;
  const hasBody = req.body !== undefined && req.method !== "GET" && req.method !== "HEAD";
  const res = await fetch(`${url}${req.path}`, {
    method: req.method,
    headers,
    body: hasBody ? req.body : undefined,
    signal: AbortSignal.timeout(60_000),
  });
  return { status: res.status, body: await res.text() };
}

/** What a failing request was, short enough to read in a log. */
function describe(req: FuzzRequest, out: Outcome): string {
  const body = req.body === undefined ? "" : ` body=${JSON.stringify(req.body.slice(0, 500))}`;
  return `${req.method} ${req.path.slice(0, 300)} as ${req.principal} ${JSON.stringify(req.headers)}${body} → ${out.status} ${out.body.slice(0, 300)}`;
}

test.serial("no request to any route gives a 5xx, and the process answers afterwards", async (t) => {
  // About 20 ms a request here (argon2 on every login and registration); room for a slower machine.
  t.timeout(Math.max(300_000, RUNS * 100));
  const p = api();
  const routes = apiRoutes(p.config);
  t.true(routes.length > 30, `every route of the table (${routes.length})`);
  // Routes with more input to get wrong get more requests.
  const weight = (r: (typeof routes)[number]) =>
    1 + (r.spec.body ? 4 : 0) + (r.spec.query ? 2 : 0) + (r.spec.params ? 1 : 0);
  const perRoute = fc.oneof(
    ...routes.map((r) => ({ arbitrary: requestFor(r, session.known, hints), weight: weight(r) })),
  );
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  const reached = new Set<string>();
  const result = await fc.check(
    fc.asyncProperty(perRoute, async (req) => {
      const out = await send(p.url, req);
      statuses.set(out.status, (statuses.get(out.status) ?? 0) + 1);
      if (out.status < 300) reached.add(req.route);
      if (process.env["FUZZ_DEBUG"] === String(out.status)) t.log(describe(req, out));
      if (out.status >= 500) {
        failures.push(describe(req, out));
        return COLLECT;
      }
      return true;
    }),
    {
      numRuns: RUNS,
      seed: SEED,
      ...(process.env["FUZZ_PATH"] ? { path: process.env["FUZZ_PATH"] } : {}),
      endOnFailure: process.env["FUZZ_SHRINK"] !== "1",
    },
  );
  const unreached = routes
    .map((r) => `${r.spec.method.toUpperCase()} ${r.path}`)
    .filter((r) => !reached.has(r));
  t.log(`routes that never answered 2xx: ${unreached.join(", ") || "none"}`);
  const histogram = [...statuses].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${n}`);
  t.log(
    `fuzz: ${result.numRuns} requests over ${routes.length} routes, seed ${SEED}: ${histogram.join(" ")}`,
  );
  if (result.failed) {
    t.fail(
      `a request gave a 5xx; replay with FUZZ_SEED=${result.seed} FUZZ_PATH=${result.counterexamplePath} ` +
        `npx ava test/fuzz/api.test.ts\n${failures.slice(-3).join("\n")}`,
    );
  }
  if (failures.length > 0)
    t.fail(`${failures.length} requests gave a 5xx:\n${[...new Set(failures)].join("\n")}`);
  const health = await fetch(`${p.url}/healthz`);
  t.is(health.status, 200, "the process still answers /healthz");
  const me = await send(p.url, {
    route: "GET /api/v1/me",
    principal: "learner",
    method: "GET",
    path: `${API_PREFIX}/me`,
    headers: {},
  });
  t.is(me.status, 200, "and an authenticated /me");
});
