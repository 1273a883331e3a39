import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import { loadCheckpoint } from "../../rl/ppo/checkpoint.ts";

const bin = fileURLToPath(new URL("../../bin/proxima.js", import.meta.url));

function proxima(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const lastJson = (s: string): Record<string, unknown> => JSON.parse(s.trim().split("\n").at(-1)!);

test("proxima eval of a normalised run's checkpoint evaluates with its frozen statistics: train's own evaluation", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "proxima-norm-cli-"));
  try {
    const r = await proxima([
      "train",
      "--env",
      "Pendulum-v1",
      "--total-steps",
      "4096",
      "--set",
      "normalizeObs=true",
      "--set",
      "normalizeReward=true",
      "--json",
      "--checkpoint-dir",
      dir,
    ]);
    t.is(r.code, 0, r.stderr);
    const trained = lastJson(r.stdout);
    const state = await loadCheckpoint(dir);
    t.truthy(state.normalization?.obs, "the checkpoint holds the observation statistics");
    t.is(state.normalization?.obs?.mean.length, 3);
    const e = await proxima(["eval", "--checkpoint", dir, "--episodes", "10", "--json"]);
    t.is(e.code, 0, e.stderr);
    const evaluated = lastJson(e.stdout);
    t.is(typeof trained["evalReturnMean"], "number");
    t.is(evaluated["returnMean"], trained["evalReturnMean"]);
    t.is(evaluated["returnStd"], trained["evalReturnStd"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
