import test from "ava";
import type { PublicRun } from "../../contracts/runs.ts";
import type { SweepWithTrials } from "../../contracts/sweeps.ts";
import { parseSweepDefinition } from "../../sweeps/definition.ts";
import { expandTrials } from "../../sweeps/trials.ts";
import { type HttpResult, type TestPlatform, useTestPlatform } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";
import { tinySweep } from "../sweeps/helpers.ts";
import { accountWithRole, launch, tinyRun, waitForStatus } from "./helpers.ts";

/**
 * Issue 15, finding 2: 16 parallel `POST /runs` of a learner with a quota of 2 all got 201, the count
 * being read outside the insert's transaction. Counts and inserts now share a transaction under a
 * per-user advisory lock (db/user-lock.ts). No workers here: runs stay queued (active) and cost
 * nothing, so that the quota alone decides.
 */
const api = useTestPlatform(test, {
  SERVICES: "api,users,runs,sweeps",
  RUN_SCHEDULE_INTERVAL_MS: "100",
  SWEEP_POLL_MS: "100",
  QUOTA_RESEARCHER_CONCURRENT_SWEEPS: "3",
  QUOTA_RESEARCHER_GRADIENT_STEPS: "1000",
});

const PARALLEL = 32;

interface Problem {
  status: number;
  reason?: string;
  detail?: string;
  value?: number;
  limit?: number;
}

/** Exactly `quota` answers are `ok`; the others are 429 problem+json with Retry-After. */
function assertQuotaHeld(
  t: import("ava").ExecutionContext,
  responses: HttpResult[],
  ok: number,
  quota: number,
) {
  const accepted = responses.filter((r) => r.status === ok);
  const refused = responses.filter((r) => r.status === 429);
  t.is(accepted.length, quota, JSON.stringify(responses.map((r) => r.status)));
  t.is(refused.length, responses.length - quota);
  for (const r of refused) {
    t.true((r.headers.get("content-type") ?? "").startsWith("application/problem+json"));
    t.true(Number(r.headers.get("retry-after")) >= 1);
  }
  return accepted;
}

async function runsOf(p: TestPlatform, token: string): Promise<PublicRun[]> {
  const res = await p.request<{ items: PublicRun[] }>("GET", "/api/v1/runs?limit=100", { token });
  if (res.status !== 200) throw new Error(`list runs: ${res.status}`);
  return res.body.items;
}

/** A run that is stopped (queued ones stop at once), as a stored run that must survive the bursts. */
async function stoppedRun(p: TestPlatform, token: string, body: unknown): Promise<PublicRun> {
  const run = await launch(p, token, body);
  const stop = await p.request("POST", `/api/v1/runs/${run.id}/stop`, { token });
  if (stop.status !== 200) throw new Error(`stop: ${stop.status}`);
  return waitForStatus(p, token, run.id, ["stopped"]);
}

const stable = (r: PublicRun) => ({ id: r.id, status: r.status, config: r.config, createdAt: r.createdAt });

test("32 parallel POST /runs of a learner with a quota of 2: exactly 2 created, 30 refused with 429, nothing stored lost", async (t) => {
  const p = api();
  const { token } = await accountWithRole(p, "learner");
  const before = await stoppedRun(p, token, tinyRun(1, { seed: 99 }));
  const responses = await Promise.all(
    Array.from({ length: PARALLEL }, (_, i) =>
      p.request<PublicRun & Problem>("POST", "/api/v1/runs", { token, body: tinyRun(4, { seed: i }) }),
    ),
  );
  const created = assertQuotaHeld(t, responses, 201, 2);
  for (const r of responses.filter((x) => x.status === 429))
    t.regex((r.body as Problem).detail ?? "", /a learner may have 2 active runs at once/);
  const stored = await runsOf(p, token);
  t.deepEqual(
    stored.map((r) => r.id).sort(),
    [before.id, ...created.map((r) => (r.body as PublicRun).id)].sort(),
  );
  t.deepEqual(stable(stored.find((r) => r.id === before.id)!), stable(before));
  t.is(stored.filter((r) => r.status === "queued").length, 2);
});

test("32 parallel resumes of a learner's stopped runs with a quota of 2: exactly 2 resumed, 30 refused and still stopped", async (t) => {
  const p = api();
  const { token } = await accountWithRole(p, "learner");
  const stopped: PublicRun[] = [];
  for (let i = 0; i < PARALLEL; i++) stopped.push(await stoppedRun(p, token, tinyRun(2, { seed: i })));
  const responses = await Promise.all(
    stopped.map((r) => p.request<PublicRun & Problem>("POST", `/api/v1/runs/${r.id}/resume`, { token })),
  );
  const resumed = assertQuotaHeld(t, responses, 200, 2);
  const stored = await runsOf(p, token);
  t.is(stored.length, PARALLEL);
  const resumedIds = new Set(resumed.map((r) => (r.body as PublicRun).id));
  for (const run of stored) t.is(run.status, resumedIds.has(run.id) ? "queued" : "stopped", run.id);
});

test("resume and create of one learner share the quota: with one slot left, of 32 mixed requests exactly one succeeds", async (t) => {
  const p = api();
  const { token } = await accountWithRole(p, "learner");
  const stopped = [];
  for (let i = 0; i < PARALLEL / 2; i++) stopped.push(await stoppedRun(p, token, tinyRun(2, { seed: i })));
  await launch(p, token, tinyRun(2, { seed: 1000 }));
  const responses = await Promise.all([
    ...stopped.map((r) => p.request("POST", `/api/v1/runs/${r.id}/resume`, { token })),
    ...stopped.map((_, i) =>
      p.request("POST", "/api/v1/runs", { token, body: tinyRun(2, { seed: 2000 + i }) }),
    ),
  ]);
  const ok = responses.filter((r) => r.status === 200 || r.status === 201);
  t.is(ok.length, 1, JSON.stringify(responses.map((r) => r.status)));
  t.is(responses.filter((r) => r.status === 429).length, PARALLEL - 1);
  t.is((await runsOf(p, token)).filter((r) => r.status === "queued").length, 2);
});

test("32 parallel POST /sweeps of a researcher with a quota of 3 sweeps: exactly 3 launched, 29 refused with 429", async (t) => {
  const p = api();
  const { token } = await accountWithRole(p, "researcher");
  const responses = await Promise.all(
    Array.from({ length: PARALLEL }, (_, i) =>
      p.request<SweepWithTrials & Problem>("POST", "/api/v1/sweeps", {
        token,
        body: tinySweep(2, { name: `burst ${i}` }),
      }),
    ),
  );
  const launched = assertQuotaHeld(t, responses, 201, 3);
  for (const r of responses.filter((x) => x.status === 429))
    t.regex((r.body as Problem).detail ?? "", /a researcher may have 3 sweeps running at once/);
  const list = await p.request<{ items: SweepWithTrials[] }>("GET", "/api/v1/sweeps", { token });
  t.deepEqual(
    list.body.items.map((s) => s.id).sort(),
    launched.map((r) => (r.body as SweepWithTrials).id).sort(),
  );

  // A stopped sweep frees its slot; resuming it while the slot is taken again is a 429 too.
  const first = (launched[0]!.body as SweepWithTrials).id;
  t.is((await p.request("POST", `/api/v1/sweeps/${first}/stop`, { token })).status, 200);
  await waitFor(
    () => p.request<SweepWithTrials>("GET", `/api/v1/sweeps/${first}`, { token }),
    (r) => r.body.status === "stopped",
    "the sweep to stop",
  );
  const again = await Promise.all(
    Array.from({ length: 4 }, (_, i) =>
      p.request("POST", "/api/v1/sweeps", { token, body: tinySweep(2, { name: `again ${i}` }) }),
    ),
  );
  assertQuotaHeld(t, again, 201, 1);
  const resume = await p.request<Problem>("POST", `/api/v1/sweeps/${first}/resume`, { token });
  t.is(resume.status, 429);
});

test("a learner's compute quotas: hiddenSizes [4096, 4096] and 512 minibatches × 1000 epochs are 403 problem+json naming the limit", async (t) => {
  const p = api();
  const { token } = await accountWithRole(p, "learner");
  const wide = await p.request<Problem>("POST", "/api/v1/runs", {
    token,
    body: tinyRun(8, {
      hyperparameters: {
        hiddenSizes: [4096, 4096],
        numEnvs: 4,
        numSteps: 128,
        numMinibatches: 1,
        updateEpochs: 1,
      },
    }),
  });
  t.is(wide.status, 403);
  t.true((wide.headers.get("content-type") ?? "").startsWith("application/problem+json"));
  t.is(wide.body.reason, "parameters");
  t.is(wide.body.limit, 1_000_000);
  t.regex(
    wide.body.detail ?? "",
    /hiddenSizes \[4096, 4096\] gives 33\.6M parameters .*; a learner may use 1M/,
  );

  const epochs = await p.request<Problem>("POST", "/api/v1/runs", {
    token,
    body: tinyRun(8, {
      hyperparameters: { numEnvs: 4, numSteps: 128, numMinibatches: 512, updateEpochs: 1000 },
    }),
  });
  t.is(epochs.status, 403);
  t.is(epochs.body.reason, "gradientSteps");
  t.is(epochs.body.value, 512_000);
  t.regex(epochs.body.detail ?? "", /512,000 gradient steps per iteration; a learner may take 2,048/);
  t.deepEqual(await runsOf(p, token), []);
});

test("a sweep is refused whole when a trial, or a value PBT may reach, is over the compute quotas", async (t) => {
  const p = api();
  const { token } = await accountWithRole(p, "researcher");
  const grid = await p.request<Problem>("POST", "/api/v1/sweeps", {
    token,
    body: tinySweep(2, {
      searchSpace: {
        hiddenSizes: {
          values: [
            [64, 64],
            [4096, 4096],
          ],
        },
      },
      maxTrials: 2,
    }),
  });
  t.is(grid.status, 403);
  t.is(grid.body.reason, "parameters");
  t.regex(grid.body.detail ?? "", /a researcher may use 10M \(trial 1\)/);

  // PBT perturbs updateEpochs within [1, 1000]: with 2 minibatches that reaches 2,000 gradient steps,
  // over this file's researcher quota of 1,000, even when the first generation's draws are not.
  const pbtSweep = (seed: number) =>
    tinySweep(4, {
      method: "pbt",
      seed,
      searchSpace: { updateEpochs: { randint: [1, 1001] } },
      hyperparameters: { numEnvs: 4, numSteps: 32, numMinibatches: 2 },
      maxTrials: 2,
      maxConcurrent: 2,
      pbt: { perturbationInterval: 256 },
    });
  const firstGenerationWithin = (seed: number) =>
    expandTrials(parseSweepDefinition(pbtSweep(seed))).every(
      (x) => (x.params["updateEpochs"] as number) * 2 <= 1000,
    );
  const seed = Array.from({ length: 100 }, (_, i) => i).find(firstGenerationWithin);
  t.not(seed, undefined);
  const pbt = await p.request<Problem>("POST", "/api/v1/sweeps", { token, body: pbtSweep(seed!) });
  t.is(pbt.status, 403, JSON.stringify(pbt.body));
  t.is(pbt.body.reason, "gradientSteps");
  t.regex(pbt.body.detail ?? "", /PBT's perturbations may reach/);
  const list = await p.request<{ items: unknown[] }>("GET", "/api/v1/sweeps", { token });
  t.deepEqual(list.body.items, []);
});
