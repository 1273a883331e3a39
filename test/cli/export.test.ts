import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import * as ort from "onnxruntime-node";
import { getExercise } from "../../exercises/index.ts";
import { makeVectorEnv } from "../../rl/envs/vector.ts";
import { encodeCheckpoint, readCheckpoint } from "../../rl/ppo/checkpoint.ts";
import { cliFor } from "./helpers.ts";

/** `proxima export` as a user runs it: train a checkpoint, export it, run the model with onnxruntime. */

async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "proxima-export-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1)!);
const oneLine = (s: string) => s.trim().split("\n").length === 1;

test("export writes the checkpoint's policy as ONNX, and the model plays the episodes of proxima eval, return for return", async (t) => {
  const cli = await cliFor(t);
  const dir = await tempDir(t);
  const ckpt = join(dir, "ckpt");
  const trained = await cli.run(
    ["train", "--env", "CartPole-v1", "--total-steps", "4096", "--checkpoint-dir", ckpt, "--json"],
    { timeoutMs: 120_000 },
  );
  t.is(trained.code, 0, trained.stderr);
  const out = join(dir, "policy.onnx");
  const exported = await cli.run([
    "export",
    "--checkpoint",
    ckpt,
    "--format",
    "onnx",
    "--out",
    out,
    "--json",
  ]);
  t.is(exported.code, 0, exported.stderr);
  t.like(lastJson(exported.stdout), {
    env: "CartPole-v1",
    out,
    format: "onnx",
    globalStep: 4096,
    action: "discrete",
    observationNormalization: false,
  });

  const episodes = 5;
  const evaluated = await cli.run(["eval", "--checkpoint", ckpt, "--episodes", String(episodes), "--json"]);
  t.is(evaluated.code, 0, evaluated.stderr);
  const { seed, returns } = lastJson(evaluated.stdout) as { seed: number; returns: number[] };

  const session = await ort.InferenceSession.create(await readFile(out));
  const env = makeVectorEnv("CartPole-v1", episodes);
  let obs = env.reset({ seed });
  const onnxReturns = new Array<number>(episodes).fill(Number.NaN);
  while (onnxReturns.some(Number.isNaN)) {
    const { action } = await session.run({ obs: new ort.Tensor("float32", obs.slice(), [episodes, 4]) });
    const step = env.step(Int32Array.from(action!.data as BigInt64Array, Number));
    for (const e of step.episodes) if (Number.isNaN(onnxReturns[e.index])) onnxReturns[e.index] = e.return;
    obs = step.observations;
  }
  t.deepEqual(onnxReturns, returns);

  // The single-file form (what GET /runs/:id/checkpoint serves) exports to the same bytes.
  const blob = join(dir, "run.ckpt");
  await writeFile(blob, encodeCheckpoint(await readCheckpoint(ckpt)));
  const fromBlob = join(dir, "from-blob.onnx");
  t.is((await cli.run(["export", "--checkpoint", blob, "--out", fromBlob])).code, 0);
  t.deepEqual(await readFile(fromBlob), await readFile(out));
});

test("export of a checkpoint whose env the exporter does not know, or with a bad flag, exits non-zero with a one-line reason", async (t) => {
  const cli = await cliFor(t);
  const dir = await tempDir(t);
  const ckpt = join(dir, "ckpt");
  t.is(
    (await cli.run(["train", "--env", "CartPole-v1", "--total-steps", "512", "--checkpoint-dir", ckpt])).code,
    0,
  );
  const state = await readCheckpoint(ckpt);
  const unknown = join(dir, "unknown.ckpt");
  await writeFile(unknown, encodeCheckpoint({ ...state, envId: "Nope-v9" }));
  const r = await cli.run(["export", "--checkpoint", unknown, "--out", join(dir, "x.onnx")]);
  t.not(r.code, 0);
  t.true(oneLine(r.stderr), r.stderr);
  t.regex(r.stderr, /"Nope-v9".*spaces/);

  const custom = join(dir, "custom.ckpt");
  await writeFile(custom, encodeCheckpoint({ ...state, envId: "custom:local" }));
  const c = await cli.run(["export", "--checkpoint", custom, "--out", join(dir, "x.onnx")]);
  t.not(c.code, 0);
  t.regex(c.stderr, /custom:local is an environment defined by code: pass its script with --env-code/);

  const f = await cli.run(["export", "--checkpoint", ckpt, "--format", "tflite", "--out", join(dir, "x")]);
  t.not(f.code, 0);
  t.regex(f.stderr, /--format must be one of onnx, got "tflite"/);
  const o = await cli.run(["export", "--checkpoint", ckpt]);
  t.regex(o.stderr, /--out FILE is required/);
});

test("export --env-code reads the spaces an environment defined by code declares", async (t) => {
  const cli = await cliFor(t);
  const dir = await tempDir(t);
  const code = join(dir, "corridor.js");
  await writeFile(code, getExercise("custom-environment")!.starterCode);
  const ckpt = join(dir, "ckpt");
  const trained = await cli.run([
    "train",
    "--env-code",
    code,
    "--total-steps",
    "128",
    ..."numEnvs=4 numSteps=32".split(" ").flatMap((s) => ["--set", s]),
    "--checkpoint-dir",
    ckpt,
  ]);
  t.is(trained.code, 0, trained.stderr);
  const out = join(dir, "corridor.onnx");
  const r = await cli.run(["export", "--checkpoint", ckpt, "--env-code", code, "--out", out, "--json"]);
  t.is(r.code, 0, r.stderr);
  t.like(lastJson(r.stdout), { env: "custom:local", action: "discrete" });
  const session = await ort.InferenceSession.create(await readFile(out));
  const obsDim = (await readCheckpoint(ckpt)).tensors.find((s) => s.name === "actor.0.kernel")!.shape[0];
  const { action } = await session.run({
    obs: new ort.Tensor("float32", new Float32Array(obsDim * 3), [3, obsDim]),
  });
  t.deepEqual(action!.dims, [3]);
});
