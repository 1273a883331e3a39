import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import { getExercise } from "../exercises/index.ts";

const bin = fileURLToPath(new URL("../bin/proxima.js", import.meta.url));

function proxima(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const oneLine = (s: string) => s.trim().split("\n").length === 1;

test("a bad flag exits non-zero with a one-line reason", async (t) => {
  const r = await proxima(["train", "--env", "CartPole-v1", "--bogus"]);
  t.not(r.code, 0);
  t.true(oneLine(r.stderr), r.stderr);
  t.regex(r.stderr, /bogus/);
});

test("an unknown env id exits non-zero naming the known ids", async (t) => {
  const r = await proxima(["train", "--env", "Nope-v9"]);
  t.not(r.code, 0);
  t.true(oneLine(r.stderr));
  t.regex(r.stderr, /unknown environment "Nope-v9".*CartPole-v1/);
});

test("an unreadable checkpoint exits non-zero with a one-line reason", async (t) => {
  const r = await proxima(["eval", "--checkpoint", join(tmpdir(), "no-such-checkpoint-dir")]);
  t.not(r.code, 0);
  t.true(oneLine(r.stderr));
  t.regex(r.stderr, /cannot read checkpoint/);
});

test("envs --json lists the registry with presets", async (t) => {
  const r = await proxima(["envs", "--json"]);
  t.is(r.code, 0);
  const envs = JSON.parse(r.stdout) as { id: string; presets: string[] }[];
  const cartpole = envs.find((e) => e.id === "CartPole-v1");
  t.deepEqual(cartpole?.presets, ["cleanrl", "zoo"]);
});

test("envs --presets lists every setting of each preset with the source it reproduces", async (t) => {
  const r = await proxima(["envs", "--presets"]);
  t.is(r.code, 0);
  t.regex(r.stdout, /Acrobot-v1 · zoo: rl-baselines3-zoo hyperparams\/ppo\.yml, Acrobot-v1 entry/);
  t.regex(r.stdout, /Pendulum-v1 · cleanrl: CleanRL ppo_continuous_action\.py/);
  const mcc = r.stdout.split("\n").findIndex((l) => l.startsWith("MountainCarContinuous-v0 · zoo"));
  t.true(mcc >= 0);
  t.regex(
    r.stdout.split("\n")[mcc + 1] ?? "",
    /useSde=true .*logStdInit=-3\.29 orthoInit=false normalizeObs=true/,
  );
});

test("train --json prints a summary as its last stdout line, and eval reads the checkpoint it wrote", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "proxima-cli-"));
  try {
    const r = await proxima([
      "train",
      "--env",
      "CartPole-v1",
      "--total-steps",
      "2048",
      "--json",
      "--checkpoint-dir",
      dir,
    ]);
    t.is(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    t.like(summary, { env: "CartPole-v1", seed: 1, totalSteps: 2048, evalEpisodes: 10 });
    for (const k of ["wallSeconds", "sps", "evalReturnMean", "evalReturnStd"])
      t.is(typeof summary[k], "number", k);
    const e = await proxima(["eval", "--checkpoint", dir, "--episodes", "3", "--json"]);
    t.is(e.code, 0, e.stderr);
    const result = JSON.parse(e.stdout.trim().split("\n").at(-1)!);
    t.like(result, { env: "CartPole-v1", globalStep: 2048, episodes: 3 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("train --env-code trains on a learner's own environment in a local sandbox, and eval --env-code gives the same evaluation", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "proxima-cli-code-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const code = join(dir, "corridor.js");
  await writeFile(code, getExercise("custom-environment")!.starterCode);
  const r = await proxima([
    "train",
    "--env-code",
    code,
    "--total-steps",
    "5120",
    ..."numEnvs=4 numSteps=32 learningRate=0.003".split(" ").flatMap((s) => ["--set", s]),
    "--eval-episodes",
    "5",
    "--checkpoint-dir",
    join(dir, "ckpt"),
    "--json",
  ]);
  t.is(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  t.like(summary, { env: "custom:local", preset: "cleanrl", totalSteps: 5120, evalEpisodes: 5 });
  // The greedy policy walks straight to the goal (7–10 steps: a return of 0.1–0.4).
  t.true(summary.evalReturnMean > 0, String(summary.evalReturnMean));
  const e = await proxima([
    "eval",
    "--checkpoint",
    join(dir, "ckpt"),
    "--episodes",
    "5",
    "--env-code",
    code,
    "--json",
  ]);
  t.is(e.code, 0, e.stderr);
  t.is(JSON.parse(e.stdout.trim().split("\n").at(-1)!).returnMean, summary.evalReturnMean);

  await writeFile(join(dir, "broken.js"), "function createEnv() { return {}; }");
  const broken = await proxima(["train", "--env-code", join(dir, "broken.js")]);
  t.not(broken.code, 0);
  t.true(oneLine(broken.stderr), broken.stderr);
  t.regex(broken.stderr, /createEnv\(\) returned an env without a reset\(\) method/);
});
