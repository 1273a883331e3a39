/**
 * `npm run bench:ppo [-- --quick] [-- --seeds 3] [-- --presets zoo,cleanrl] [-- --acrobot] [-- --no-readme]`
 *
 * PPO on CartPole-v1 with the `zoo` (100k steps) and `cleanrl` (500k steps; 100k with --quick)
 * presets: env steps/s with training included, wall seconds to a rolling mean episodic return
 * ≥ 475 (last 20 episodes), a final deterministic evaluation (10 episodes) and where the time goes
 * (env stepping, policy inference, values + GAE, update). --acrobot adds Acrobot-v1 (zoo, 500k steps,
 * goal ≥ −100). Results are printed and written into bench/README.md's `## PPO` section.
 */
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { type PresetName, resolveHyperparameters } from "../rl/ppo/hyperparameters.ts";
import { PPOTrainer } from "../rl/ppo/trainer.ts";
import { writeReadmeSection } from "./common.ts";

interface RunResult {
  env: string;
  preset: PresetName;
  seed: number;
  steps: number;
  wallSeconds: number;
  sps: number;
  solvedSeconds: number | null;
  solvedSteps: number | null;
  evalMean: number;
  evalStd: number;
  time: { env: number; inference: number; gae: number; update: number };
}

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    seeds: { type: "string", default: "3" },
    presets: { type: "string", default: "zoo,cleanrl" },
    acrobot: { type: "boolean", default: false },
    "no-readme": { type: "boolean", default: false },
  },
});

async function benchRun(
  env: string,
  preset: PresetName,
  seed: number,
  totalTimesteps: number,
  threshold: number,
): Promise<RunResult> {
  const config = resolveHyperparameters(env, preset, { seed, totalTimesteps });
  const trainer = await PPOTrainer.create({ envId: env, config });
  const time = { env: 0, inference: 0, gae: 0, update: 0 };
  const recent: number[] = [];
  let solvedSeconds: number | null = null;
  let solvedSteps: number | null = null;
  const started = performance.now();
  await trainer.train((m) => {
    time.env += m["time/env"];
    time.inference += m["time/inference"];
    time.gae += m["time/gae"];
    time.update += m["time/update"];
    const r = m["charts/episodic_return"];
    if (r !== null) {
      for (let i = 0; i < m["charts/episodes"]; i++) recent.push(r);
      while (recent.length > 20) recent.shift();
    }
    if (
      solvedSeconds === null &&
      recent.length >= 20 &&
      recent.reduce((a, b) => a + b, 0) / recent.length >= threshold
    ) {
      solvedSeconds = (performance.now() - started) / 1000;
      solvedSteps = m.global_step;
    }
  });
  const wallSeconds = (performance.now() - started) / 1000;
  const evaluation = trainer.evaluate(10);
  return {
    env,
    preset,
    seed,
    steps: trainer.globalStep,
    wallSeconds,
    sps: trainer.globalStep / wallSeconds,
    solvedSeconds,
    solvedSteps,
    evalMean: evaluation.mean,
    evalStd: evaluation.std,
    time,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? Number.NaN
    : s.length % 2
      ? s[(s.length - 1) / 2]
      : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const f1 = (x: number | null) => (x === null || Number.isNaN(x) ? "—" : x.toFixed(1));

function table(results: RunResult[]): string {
  const head =
    "| env | preset | seed | steps | wall s | steps/s | to ≥ threshold: s (steps) | eval (10 ep.) | env / inference / GAE / update s |";
  const sep = "|---|---|---|---|---|---|---|---|---|";
  const rows = results.map(
    (r) =>
      `| ${r.env} | ${r.preset} | ${r.seed} | ${r.steps} | ${f1(r.wallSeconds)} | ${Math.round(r.sps)} | ` +
      `${r.solvedSeconds === null ? "not reached" : `${f1(r.solvedSeconds)} (${r.solvedSteps})`} | ${f1(r.evalMean)} ± ${f1(r.evalStd)} | ` +
      `${r.time.env.toFixed(2)} / ${r.time.inference.toFixed(2)} / ${r.time.gae.toFixed(2)} / ${r.time.update.toFixed(2)} |`,
  );
  const groups = new Map<string, RunResult[]>();
  for (const r of results)
    groups.set(`${r.env} ${r.preset}`, [...(groups.get(`${r.env} ${r.preset}`) ?? []), r]);
  const medians = [...groups.entries()].map(([k, rs]) => {
    const solved = rs.filter((r) => r.solvedSeconds !== null);
    return (
      `| **${k.replace(" ", " | ")}** | median | ${median(rs.map((r) => r.steps))} | ${f1(median(rs.map((r) => r.wallSeconds)))} | ` +
      `${Math.round(median(rs.map((r) => r.sps)))} | ${solved.length}/${rs.length} reached, median ${f1(median(solved.map((r) => r.solvedSeconds!)))} s | ` +
      `${f1(median(rs.map((r) => r.evalMean)))} (≥ threshold in ${rs.filter((r) => r.evalMean >= (r.env === "Acrobot-v1" ? -100 : 475)).length}/${rs.length}) | |`
    );
  });
  return [head, sep, ...rows, ...medians].join("\n");
}

const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => i + 1);
const presets = values.presets.split(",") as PresetName[];
const results: RunResult[] = [];
for (const preset of presets) {
  const steps = preset === "zoo" ? 100_000 : values.quick ? 100_000 : 500_000;
  for (const seed of seeds) {
    const r = await benchRun("CartPole-v1", preset, seed, steps, 475);
    results.push(r);
    process.stderr.write(
      `CartPole-v1 ${preset} seed ${seed}: ${f1(r.wallSeconds)} s, ${Math.round(r.sps)} steps/s, eval ${f1(r.evalMean)}\n`,
    );
  }
}
if (values.acrobot) {
  for (const seed of values.quick ? [1] : seeds) {
    const r = await benchRun("Acrobot-v1", "zoo", seed, 500_000, -100);
    results.push(r);
    process.stderr.write(
      `Acrobot-v1 zoo seed ${seed}: ${f1(r.wallSeconds)} s, ${Math.round(r.sps)} steps/s, eval ${f1(r.evalMean)}\n`,
    );
  }
}
const machine = `${cpus().length} × ${cpus()[0]?.model ?? "unknown CPU"}, Node ${process.version}`;
const command = `npm run bench:ppo${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
const section = [
  `Measured ${new Date().toISOString().slice(0, 10)} on ${machine} with \`${command}\` (fused kernel, WebAssembly SIMD GEMM).`,
  "",
  table(results),
].join("\n");
process.stdout.write(`${section}\n`);
if (!values["no-readme"]) await writeReadmeSection("ppo-results", "PPO (bench:ppo)", section);
