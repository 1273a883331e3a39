/**
 * `npm run bench:learner-isolation`: the latency of `/healthz` on a process while a heavy learner
 * trains in it, with the learner on the event loop (what a TrainingRun did before issue 15: RunLearner
 * called from the actor's mailbox) and in its own worker thread (LearnerThread, what it does now).
 *
 * One process: a node:http server answering `/healthz` (what a controller's health endpoint does: no
 * I/O), and a client on the same loop sending one request every 10 ms on a fixed schedule, each timed
 * from when it was due (so a frozen loop shows as every request due meanwhile, not as one). The
 * learner builds its network (orthogonal initialisation), learns `--iterations` updates on rollouts
 * collected beforehand, checkpoints and evaluates the final policy, as a run does.
 * Usage: npm run bench:learner-isolation [-- --hidden 1024 --iterations 2]
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { EnvRunner, type RunnerSample } from "../actors/env-runner.ts";
import { defaultEvaluationSeed, evaluateTrainedPolicy } from "../actors/evaluation.ts";
import { RunLearner } from "../actors/learner.ts";
import { LearnerThread } from "../actors/learner-thread.ts";
import { builtinSpaces } from "../rl/envs/registry.ts";
import { copyRollout } from "../rl/ppo/distributed.ts";
import { resolveHyperparameters } from "../rl/ppo/hyperparameters.ts";

const { values } = parseArgs({
  options: {
    hidden: { type: "string", default: "1024" },
    iterations: { type: "string", default: "2" },
  },
});
const hidden = Number(values.hidden);
const iterations = Number(values.iterations);
const envId = "CartPole-v1";
// The shape: one minibatch of 512 samples per update.
const config = resolveHyperparameters(envId, "cleanrl", {
  seed: 1,
  hiddenSizes: [hidden, hidden],
  numEnvs: 4,
  numSteps: 128,
  numMinibatches: 1,
  updateEpochs: 1,
  totalTimesteps: 512 * iterations,
});
const spaces = builtinSpaces(envId);

const server = createServer((req, res) => {
  res.writeHead(req.url === "/healthz" ? 200 : 404, { "content-type": "application/json" });
  res.end('{"status":"ok"}');
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;

/** Requests every `intervalMs` on a fixed schedule until `stop`, each timed from its due time. */
function openLoop(intervalMs: number): { stop(): Promise<number[]>; failed: () => number } {
  const latencies: number[] = [];
  let failed = 0;
  const inFlight = new Set<Promise<unknown>>();
  const start = performance.now();
  let i = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    while (!stopped && start + i * intervalMs <= performance.now()) {
      const due = start + i++ * intervalMs;
      const p = fetch(url)
        .then((r) => r.arrayBuffer())
        .then(
          () => {
            latencies.push(performance.now() - due);
          },
          // A burst of every request due during a freeze can overflow the listen backlog: counted apart.
          () => {
            failed++;
          },
        );
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
    if (!stopped) timer = setTimeout(tick, Math.max(0, start + i * intervalMs - performance.now()));
  };
  tick();
  return {
    failed: () => failed,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await Promise.all(inFlight);
      return latencies.sort((a, b) => a - b);
    },
  };
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/** The rollouts of `iterations` iterations, collected first (the runners are elsewhere in a run). */
async function rollouts(): Promise<RunnerSample[]> {
  const learner = await RunLearner.create(envId, config);
  const runner = await EnvRunner.create({ envId, config, numEnvs: config.numEnvs, index: 0 });
  const out: RunnerSample[] = [];
  for (let i = 0; i < iterations; i++) {
    const sample = await runner.sample(learner.weights());
    out.push({ rollout: copyRollout(sample.rollout), state: sample.state });
    learner.learn([sample.rollout], performance.now());
  }
  return out;
}

async function onLoop(samples: RunnerSample[]): Promise<void> {
  // Each step is one mailbox message of the actor: the loop turns between them, not within.
  const turn = () => new Promise((r) => setImmediate(r));
  const learner = await RunLearner.create(envId, config);
  for (const s of samples) {
    await turn();
    learner.learn([copyRollout(s.rollout)], performance.now());
  }
  await turn();
  learner.checkpoint([samples.at(-1)!.state]);
  await turn();
  await evaluateTrainedPolicy(envId, config, learner.params, {
    episodes: 10,
    seed: defaultEvaluationSeed(config),
    normalization: learner.normalizationState(),
  });
}

async function inThread(samples: RunnerSample[]): Promise<void> {
  const learner = new LearnerThread({ envId, config, spaces, memoryMb: 1024 });
  await learner.ready;
  for (const s of samples) await learner.learn([copyRollout(s.rollout)], performance.now());
  await learner.checkpoint([samples.at(-1)!.state]);
  await learner.evaluate(10, defaultEvaluationSeed(config));
  await learner.terminate();
}

const samples = await rollouts();
console.log(
  `learner: ${envId}, hiddenSizes [${hidden}, ${hidden}], ${iterations} updates of 512 samples in one minibatch, ` +
    "then a checkpoint and a 10-episode evaluation; /healthz every 10 ms on the same process\n",
);
console.log("| learner | window (s) | requests | refused | p50 (ms) | p99 (ms) | max (ms) |");
console.log("|---|---:|---:|---:|---:|---:|---:|");
for (const [name, train] of [
  ["idle (no learner)", null],
  ["on the event loop (before)", onLoop],
  ["worker thread (after)", inThread],
] as const) {
  const loop = openLoop(10);
  const t0 = performance.now();
  if (train) await train(samples);
  else await new Promise((r) => setTimeout(r, 5_000));
  const seconds = (performance.now() - t0) / 1000;
  const l = await loop.stop();
  console.log(
    `| ${name} | ${seconds.toFixed(1)} | ${l.length} | ${loop.failed()} | ${pct(l, 50).toFixed(1)} | ${pct(l, 99).toFixed(1)} | ${l.at(-1)!.toFixed(1)} |`,
  );
}
server.close();
