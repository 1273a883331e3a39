import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import type { PublicRun } from "../../contracts/runs.ts";
import { getExercise } from "../../exercises/index.ts";
import { call } from "../../services/actions.ts";
import { useTestPlatform } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";
import {
  accountWithRole,
  deterministicPart,
  getRun,
  launch,
  metrics,
  tinyRun,
  waitForStatus,
} from "../runs/helpers.ts";
import { createSweep, waitForSweep } from "../sweeps/helpers.ts";
import { TestSocket } from "../ws/helpers.ts";
import { submitAndGrade } from "./helpers.ts";

/**
 * Environments defined by code, end to end in one process: a learner submits one to the
 * custom-environment exercise, the checks grade it, and a passed submission's `custom:<id>` trains
 * through the runs API, its sub-envs stepping in a sandbox process of the worker. An env that throws
 * or hangs mid-run fails its run with its own message; the worker goes on serving other runs.
 */
const api = useTestPlatform(test, {
  SERVICES: "api,users,submissions,runs,workers,sweeps",
  SWEEP_POLL_MS: "100",
  SUBMISSIONS_POOL_SIZE: "1",
  RUN_SCHEDULE_INTERVAL_MS: "100",
  CODE_ENV_CALL_CPU_MS: "200",
  SUBMISSIONS_CONCURRENT_PER_USER: "10",
  QUOTA_LEARNER_SUBMISSIONS_PER_MINUTE: "100",
});

const EXERCISE = "custom-environment";
const BIN = fileURLToPath(new URL("../../bin/proxima.js", import.meta.url));

function proxima(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
const STARTER = getExercise(EXERCISE)!.starterCode;

/** The starter's corridor, with `extra` run in step() before anything else (a fault to inject). */
const corridorWith = (extra: string) =>
  STARTER.replace("    step(action) {\n", `    step(action) {\n      ${extra}\n`).replace(
    "  let position = 0;",
    "  let position = 0;\n  let lifetimeSteps = 0;",
  );

/** 4 envs × 32 steps per iteration, a learning rate that learns the corridor in a few thousand steps. */
const corridorRun = (env: string, iterations: number, extra: Record<string, unknown> = {}) => ({
  env,
  seed: 3,
  totalSteps: 128 * iterations,
  hyperparameters: { numEnvs: 4, numSteps: 32, numMinibatches: 2, updateEpochs: 4, learningRate: 0.003 },
  ...extra,
});

test.serial("the starter environment passes every check and becomes an env id", async (t) => {
  const p = api();
  const me = await p.learner();
  const socket = await TestSocket.withToken(p.url, me.tokens.accessToken);
  t.teardown(() => socket.ws.close());
  const s = await submitAndGrade(p, me.tokens.accessToken, EXERCISE, STARTER);
  const told = await socket.next((m) => m["type"] === "submission", 30_000);
  t.like(told, { submissionId: s.id, status: "passed", envId: `custom:${s.id}` });
  t.is(s.status, "passed", JSON.stringify(s.tests));
  t.is(s.score, 10);
  t.deepEqual(
    s.tests.map((x) => [x.name, x.passed]),
    ["spaces", "reset", "determinism", "steps", "episodes", "state"].map((n) => [n, true]),
  );
  t.is(s.envId, `custom:${s.id}`);
  t.deepEqual(s.envSpec, {
    observationSpace: { kind: "box", shape: [1], low: [0], high: [1] },
    actionSpace: { kind: "discrete", n: 2 },
    maxEpisodeSteps: 100,
    stateful: true,
  });
  const exercise = await p.request<{ kind: string; starterCode: string }>(
    "GET",
    `/api/v1/exercises/${EXERCISE}`,
    {
      token: me.tokens.accessToken,
    },
  );
  t.is(exercise.body.kind, "environment");
});

test.serial(
  "checks name what is wrong: shared Math.random, observations out of bounds, a throwing step, a syntax error",
  async (t) => {
    const p = api();
    const { accessToken } = (await p.learner()).tokens;
    const shared = await submitAndGrade(
      p,
      accessToken,
      EXERCISE,
      STARTER.replace("position = Math.floor(random() * 4);", "position = Math.floor(Math.random() * 4);"),
    );
    t.is(shared.status, "failed");
    t.is(shared.envId, null);
    const determinism = shared.tests.find((x) => x.name === "determinism")!;
    t.false(determinism.passed);
    t.regex(determinism.message, /different observations|diverged/);

    const outside = await submitAndGrade(
      p,
      accessToken,
      EXERCISE,
      STARTER.replace("return { observation: [position / 10],", "return { observation: [position],"),
    );
    t.is(outside.status, "failed");
    t.regex(outside.tests.find((x) => x.name === "steps")!.message, /outside the observation space/);

    const throwing = await submitAndGrade(
      p,
      accessToken,
      EXERCISE,
      corridorWith('throw new RangeError("no way");'),
    );
    t.is(throwing.status, "failed");
    t.regex(throwing.tests.find((x) => x.name === "steps")!.message, /RangeError: no way/);

    const broken = await submitAndGrade(p, accessToken, EXERCISE, "function createEnv( {");
    t.is(broken.status, "error");
    t.regex(broken.error ?? "", /syntax|SyntaxError/i);
  },
);

test.serial(
  "PPO trains on a passed environment through the runs API, and the same seed gives the same curve",
  async (t) => {
    const p = api();
    const me = await p.learner();
    const token = me.tokens.accessToken;
    const env = (await submitAndGrade(p, token, EXERCISE, STARTER)).envId!;
    const runs: PublicRun[] = [];
    for (let k = 0; k < 2; k++) {
      const run = await launch(p, token, corridorRun(env, 40));
      runs.push(await waitForStatus(p, token, run.id, ["completed", "failed"], 120_000));
    }
    for (const run of runs) t.is(run.status, "completed", run.failureReason ?? "");
    t.is(runs[0]!.env, env);
    const [a, b] = await Promise.all(runs.map((r) => metrics(p, token, r.id)));
    t.is(a!.length, 40);
    t.deepEqual(deterministicPart(a!), deterministicPart(b!));
    // Early on, episodes wander (the finished ones average about −1); a trained policy walks straight
    // to the goal in 7–10 steps (a return of 0.1–0.4).
    const meanReturn = (points: typeof a) =>
      points!.reduce((s, pt) => s + (pt.metrics["charts/episodic_return"] ?? 0), 0) / points!.length;
    const early = meanReturn(a!.slice(0, 5));
    const late = meanReturn(a!.slice(-5));
    t.true(late > early + 1, `early ${early}, late ${late}`);
    t.true(late > 0, `late ${late}`);
    const checkpoint = await p.authedFetch(token, `/api/v1/runs/${runs[0]!.id}/checkpoint`);
    t.is(checkpoint.status, 200);

    // `proxima eval` evaluates the downloaded checkpoint on the env's own code, in a local sandbox.
    const dir = await mkdtemp(join(tmpdir(), "proxima-custom-eval-"));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, "corridor.ckpt");
    await writeFile(file, new Uint8Array(await checkpoint.arrayBuffer()));
    await writeFile(join(dir, "corridor.js"), STARTER);
    await writeFile(
      join(dir, "wide.js"),
      STARTER.replace("low: [0], high: [1] }", "low: [0, 0], high: [1, 1] }"),
    );
    const withoutCode = await proxima(["eval", "--checkpoint", file]);
    t.not(withoutCode.code, 0);
    t.regex(withoutCode.stderr, /defined by code: pass its script with --env-code/);
    const args = ["eval", "--checkpoint", file, "--episodes", "5", "--json", "--env-code"];
    const evaluated = await proxima([...args, join(dir, "corridor.js")]);
    t.is(evaluated.code, 0, evaluated.stderr);
    const summary = JSON.parse(evaluated.stdout.trim().split("\n").at(-1)!) as {
      env: string;
      returnMean: number;
      returns: number[];
    };
    t.is(summary.env, env);
    // The greedy policy walks straight to the goal: 7–10 steps, a return of 0.1–0.4.
    t.true(summary.returnMean > 0, String(summary.returnMean));
    // The run evaluated its final policy the same way, in a sandbox process of the runs node: the
    // same seed gives the same episodes (the run's evaluation has 10; these are its first 5).
    const evaluation = runs[0]!.evaluation!;
    t.like(evaluation, { episodes: 10, iteration: 40 });
    t.deepEqual(evaluation.returns.slice(0, 5), summary.returns);
    // Code whose spaces do not fit the checkpoint's network is refused, not evaluated.
    const wide = await proxima([...args, join(dir, "wide.js")]);
    t.not(wide.code, 0);
    t.regex(wide.stderr, /not the env it was trained on/);
  },
);

test.serial(
  "a stopped run on a stateful environment resumes from its checkpoint and completes",
  async (t) => {
    const p = api();
    const token = (await p.learner()).tokens.accessToken;
    const env = (await submitAndGrade(p, token, EXERCISE, STARTER)).envId!;
    const run = await launch(p, token, corridorRun(env, 60));
    await waitForStatus(p, token, run.id, ["running"]);
    const stop = await p.request("POST", `/api/v1/runs/${run.id}/stop`, { token });
    t.is(stop.status, 200);
    const stopped = await waitForStatus(p, token, run.id, ["stopped", "completed"]);
    if (stopped.status === "stopped") {
      t.true(stopped.iteration < 60);
      const resume = await p.request("POST", `/api/v1/runs/${run.id}/resume`, { token });
      t.is(resume.status, 200);
    }
    const done = await waitForStatus(p, token, run.id, ["completed", "failed"], 120_000);
    t.is(done.status, "completed", done.failureReason ?? "");
    const points = await metrics(p, token, run.id);
    t.deepEqual(
      points.map((x) => x.iteration),
      Array.from({ length: 60 }, (_, i) => i + 1),
    );
  },
);

test.serial(
  "an environment that throws or hangs mid-run fails its run with its message; the worker keeps serving",
  async (t) => {
    const p = api();
    const token = (await p.learner()).tokens.accessToken;
    // The checks step each env at most 300 times (3 episodes of ≤ 100 steps); the run goes further.
    const throws = await submitAndGrade(
      p,
      token,
      EXERCISE,
      corridorWith('if (++lifetimeSteps > 400) throw new TypeError("the corridor collapsed");'),
    );
    const hangs = await submitAndGrade(
      p,
      token,
      EXERCISE,
      corridorWith("if (++lifetimeSteps > 400) for (;;) {}"),
    );
    t.is(throws.status, "passed", JSON.stringify(throws.tests));
    t.is(hangs.status, "passed", JSON.stringify(hangs.tests));

    const thrown = await launch(p, token, corridorRun(throws.envId!, 40));
    const failed = await waitForStatus(p, token, thrown.id, ["failed", "completed"], 60_000);
    t.is(failed.status, "failed");
    t.regex(failed.failureReason ?? "", /custom:.*TypeError: the corridor collapsed/);
    t.regex(failed.failureReason ?? "", /submission\.js:\d+/);

    const hung = await launch(p, token, corridorRun(hangs.envId!, 40));
    const timedOut = await waitForStatus(p, token, hung.id, ["failed", "completed"], 60_000);
    t.is(timedOut.status, "failed");
    t.regex(timedOut.failureReason ?? "", /custom:.*(CPU|time)/i);

    const healthy = await launch(p, token, tinyRun(3));
    t.is((await waitForStatus(p, token, healthy.id, ["completed", "failed"])).status, "completed");
    // Every runner was released, its sandbox process with it.
    await waitFor(
      () => call(p.platform.broker, "workers.list", {}),
      (workers) => workers.every((w) => w.runners.length === 0),
      "the runners' release",
      10_000,
    );
    t.pass();
  },
);

test.serial(
  "runs may only use the caller's own passed environments, with a preset that exists for them",
  async (t) => {
    const p = api();
    const owner = (await p.learner()).tokens.accessToken;
    const other = (await p.learner()).tokens.accessToken;
    const env = (await submitAndGrade(p, owner, EXERCISE, STARTER)).envId!;
    const failedEnv = await submitAndGrade(
      p,
      owner,
      EXERCISE,
      STARTER.replace("position = Math.floor(random() * 4);", "position = Math.floor(Math.random() * 4);"),
    );
    const cases: [string, unknown][] = [
      [other, corridorRun(env, 2)],
      [owner, corridorRun(`custom:${failedEnv.id}`, 2)],
      [owner, corridorRun("custom:not-a-submission", 2)],
    ];
    for (const [token, body] of cases) {
      const res = await p.request<{ errors: { field: string; message: string }[] }>("POST", "/api/v1/runs", {
        token,
        body,
      });
      t.is(res.status, 422);
      t.is(res.body.errors[0]?.field, "env");
      t.regex(res.body.errors[0]?.message ?? "", /not one of your environment submissions/);
    }
    const zoo = await p.request<{ errors: { field: string }[] }>("POST", "/api/v1/runs", {
      token: owner,
      body: corridorRun(env, 2, { preset: "zoo" }),
    });
    t.is(zoo.status, 422);
    t.is(zoo.body.errors[0]?.field, "preset");
  },
);

test.serial(
  "a researcher sweeps hyperparameters on an environment of their own; others' envs are refused",
  async (t) => {
    const p = api();
    const researcher = await accountWithRole(p, "researcher");
    const env = (await submitAndGrade(p, researcher.token, EXERCISE, STARTER)).envId!;
    const definition = {
      name: "corridor lr",
      env,
      totalSteps: 128 * 5,
      hyperparameters: { numEnvs: 4, numSteps: 32, numMinibatches: 2, updateEpochs: 2 },
      searchSpace: { learningRate: { values: [3e-3, 1e-3] } },
      maxTrials: 2,
      maxConcurrent: 2,
    };
    const sweep = await createSweep(p, researcher.token, definition);
    const done = await waitForSweep(p, researcher.token, sweep.id, ["completed", "failed", "stopped"]);
    t.is(done.status, "completed");
    t.deepEqual(
      done.trials.map((x) => x.status),
      ["completed", "completed"],
    );

    const other = await accountWithRole(p, "researcher");
    const refused = await p.request<{ errors: { field: string }[] }>("POST", "/api/v1/sweeps", {
      token: other.token,
      body: definition,
    });
    t.is(refused.status, 422);
    t.is(refused.body.errors[0]?.field, "env");
  },
);

/** The env session processes this test process has started (one per runner of a custom-env run). */
async function envSessionPids(): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8");
      if (ppid === process.pid && cmdline.includes("env-child")) pids.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return pids;
}

test.serial(
  "a sandbox process killed mid-run is a lost runner: it is replaced from its state and the run ends as if undisturbed",
  async (t) => {
    const p = api();
    const token = (await p.learner()).tokens.accessToken;
    const env = (await submitAndGrade(p, token, EXERCISE, STARTER)).envId!;
    const body = corridorRun(env, 160, { seed: 21 });
    const reference = await launch(p, token, body);
    t.is((await waitForStatus(p, token, reference.id, ["completed", "failed"], 120_000)).status, "completed");
    const expected = deterministicPart(await metrics(p, token, reference.id));

    const run = await launch(p, token, body);
    await waitFor(
      () => getRun(p, token, run.id),
      (r) => r.iteration >= 3 || r.status === "completed" || r.status === "failed",
      "three iterations",
    );
    const pids = await envSessionPids();
    t.is((await getRun(p, token, run.id)).status, "running", "the run is still going when its process dies");
    t.is(pids.length, 1, "one runner, one sandbox process");
    process.kill(pids[0]!, "SIGKILL");
    const done = await waitForStatus(p, token, run.id, ["completed", "failed"], 120_000);
    t.is(done.status, "completed", done.failureReason ?? "");
    t.deepEqual(deterministicPart(await metrics(p, token, run.id)), expected);
    t.false((await envSessionPids()).includes(pids[0]!));
  },
);
