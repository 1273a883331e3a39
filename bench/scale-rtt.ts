/**
 * `npm run bench:scale-rtt [-- --variants base/no-metrics/tcp] [-- --n 400]`
 *
 * Where the orchestration overhead of `bench:scale` goes: the cost of one `workers.sample`-shaped round
 * trip (the policy, 4,610 float32 out; a real CartPole RunnerSample, 8 envs × 128 steps with its
 * collector state, back) with no stepping in it, over raw NATS (nats.js request/reply with the same
 * cbor-x encoder Moleculer uses: the transport's floor) and over Moleculer with this repository's
 * broker options (`base`) and variants of them. Between two round trips the coordinator runs a real
 * PPO update, as in an iteration: round trips that follow each other back to back are several times
 * faster (hot caches, processes and NATS server awake) and say nothing about an iteration.
 *
 * Every variant has its own echo process (a broker with one action shaped like `workers.sample`:
 * same params schema, returns a stored RunnerSample) and its own coordinator broker in this process;
 * one iteration makes one round trip per variant in turn, so that background load hits every variant
 * alike, and differences are quoted as paired medians (per iteration) against `base`.
 *
 * Variants (`/`-separated): base; no-metrics (Moleculer metrics off: the Metrics middleware's ~26
 * metric updates per round trip); no-validator; tcp (Moleculer's TCP transporter, direct
 * process-to-process instead of through the NATS server). Only `base` is a configuration Proxima runs.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { Encoder } from "cbor-x";
import { type BrokerOptions, type Context, ServiceBroker } from "moleculer";
import { connect } from "nats";
import { EnvRunner, type RunnerSample } from "../actors/env-runner.ts";
import { RunLearner } from "../actors/learner.ts";
import { loadConfig } from "../config.ts";
import { createRootLogger } from "../lib/logger.ts";
import { createBrokerOptions } from "../moleculer.config.ts";
import { resolveHyperparameters } from "../rl/ppo/hyperparameters.ts";
import { NATS_URL, randomNamespace } from "./scale-cluster.ts";

const { values } = parseArgs({
  options: {
    role: { type: "string", default: "coordinator" },
    variant: { type: "string", default: "base" },
    variants: { type: "string", default: "base/no-metrics/no-validator/tcp" },
    namespace: { type: "string", default: "" },
    n: { type: "string", default: "400" },
    warmup: { type: "string", default: "30" },
    raw: { type: "boolean", default: false },
  },
});

const VARIANTS: Record<string, (o: BrokerOptions) => BrokerOptions> = {
  base: (o) => o,
  "no-metrics": (o) => ({ ...o, metrics: false }),
  "no-validator": (o) => ({ ...o, validator: false }),
  tcp: (o) => ({
    ...o,
    transporter: { type: "TCP", options: { udpDiscovery: true, udpBindAddress: "127.0.0.1", udpPeriod: 1 } },
  }),
};

const hp = resolveHyperparameters("CartPole-v1", "cleanrl", {
  seed: 1,
  numEnvs: 8,
  numSteps: 128,
  totalTimesteps: 1e9,
});
const RUNNER_ID = "7b0d4a1e-35a4-4f6b-9d1b-3f8a3b8d6c11";
const serviceName = (variant: string) => `rtt${variant.replace(/[^a-z0-9]/gi, "")}`;
const rawSubject = (namespace: string) => `${namespace}.rtt.raw`;
// Moleculer's CBOR serializer builds its encoder with these options.
// (useTag259ForMaps is missing from cbor-x's typings.)
const cbor = () =>
  new Encoder({ useRecords: false, useTag259ForMaps: false } as ConstructorParameters<typeof Encoder>[0]);

function brokerOptions(
  namespace: string,
  nodeID: string,
  variant: string,
  services: string[],
): BrokerOptions {
  const transform = VARIANTS[variant];
  if (!transform) throw new Error(`unknown variant ${variant} (known: ${Object.keys(VARIANTS).join(", ")})`);
  const config = loadConfig({
    ...process.env,
    NATS_URL,
    MOLECULER_NAMESPACE: namespace,
    NODE_ID: nodeID,
    LOG_LEVEL: "warn",
    NODE_ENV: "production",
  });
  return transform(createBrokerOptions(config, services, createRootLogger(config)));
}

async function echo(namespace: string, variant: string, raw: boolean): Promise<void> {
  const broker = new ServiceBroker(brokerOptions(namespace, `${namespace}-echo-${variant}`, variant, []));
  const runner = await EnvRunner.create({ envId: "CartPole-v1", config: hp, numEnvs: 8, index: 0 });
  const sample = await runner.sample({ version: 0, policy: new Float32Array(4610) });
  broker.createService({
    name: serviceName(variant),
    actions: {
      sample: {
        // workers.sample's params schema.
        params: { runnerId: "uuid", version: { type: "number", integer: true }, policy: "any" },
        handler(ctx: Context<{ runnerId: string; version: number; policy: unknown }>): RunnerSample {
          if (!(ctx.params.policy instanceof Float32Array)) throw new Error("policy must be a Float32Array");
          return sample;
        },
      },
    },
  });
  await broker.start();
  if (raw) {
    const nc = await connect({ servers: new URL(NATS_URL).host });
    const enc = cbor();
    nc.subscribe(rawSubject(namespace), {
      callback: (_err, msg) => {
        const { params } = enc.decode(Buffer.from(msg.data)) as { params: { policy: unknown } };
        if (!(params.policy instanceof Float32Array)) throw new Error("policy must be a Float32Array");
        msg.respond(enc.encode({ data: sample }));
      },
    });
    await nc.flush();
  }
  process.once("SIGTERM", () => process.exit(0));
  console.log("ready");
}

function spawnEcho(namespace: string, variant: string, raw: boolean): Promise<ChildProcess> {
  const args = ["--import", "tsx", "bench/scale-rtt.ts", "--role", "echo"];
  args.push("--variant", variant, "--namespace", namespace, ...(raw ? ["--raw"] : []));
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready")) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`echo ${variant} exited (${code}): ${out}`)));
  });
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const p90 = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]!;

async function coordinator(): Promise<void> {
  const namespace = randomNamespace();
  const variants = values.variants.split("/");
  if (variants[0] !== "base") variants.unshift("base");
  const children: ChildProcess[] = [];
  const brokers: ServiceBroker[] = [];
  const nc = await connect({ servers: new URL(NATS_URL).host });
  const learner = await RunLearner.create("CartPole-v1", hp);
  try {
    for (const [i, v] of variants.entries()) {
      children.push(await spawnEcho(namespace, v, i === 0));
      const b = new ServiceBroker(brokerOptions(namespace, `${namespace}-coordinator-${v}`, v, []));
      await b.start();
      await b.waitForServices(serviceName(v));
      brokers.push(b);
    }
    const enc = cbor();
    const runner = await EnvRunner.create({ envId: "CartPole-v1", config: hp, numEnvs: 8, index: 0 });
    const rollout = (await runner.sample(learner.weights())).rollout;
    const modes = ["raw NATS", ...variants];
    const times = modes.map((): number[] => []);
    const N = Number(values.n);
    const WARMUP = Number(values.warmup);
    for (let i = 0; i < N + WARMUP; i++) {
      for (const [k, mode] of modes.entries()) {
        const w = learner.weights();
        const params = { runnerId: RUNNER_ID, version: w.version, policy: w.policy };
        const t = performance.now();
        let reply: RunnerSample;
        if (mode === "raw NATS") {
          const msg = await nc.request(rawSubject(namespace), enc.encode({ params }), { timeout: 5000 });
          reply = (enc.decode(Buffer.from(msg.data)) as { data: RunnerSample }).data;
        } else {
          reply = (await brokers[k - 1]!.call(`${serviceName(mode)}.sample`, params, {
            retries: 0,
          })) as RunnerSample;
        }
        if (i >= WARMUP) times[k]!.push(performance.now() - t);
        if (!(reply.rollout.obs instanceof Float32Array)) throw new Error("the reply lost its typed arrays");
        learner.learn([rollout], performance.now());
      }
    }
    const base = times[1]!;
    console.log(
      `round trip, policy 18 KB out, RunnerSample back, a PPO update between round trips; ${N} each, interleaved`,
    );
    console.log("| transport | median ms | p90 ms | paired median vs base |\n|---|---|---|---|");
    for (const [k, mode] of modes.entries()) {
      const ts = times[k]!;
      const paired = mode === "base" ? "" : `${median(ts.map((x, j) => x - base[j]!)).toFixed(3)} ms`;
      console.log(`| ${mode} | ${median(ts).toFixed(3)} | ${p90(ts).toFixed(3)} | ${paired} |`);
    }
  } finally {
    learner.dispose();
    await nc.close();
    for (const b of brokers) await b.stop().catch(() => {});
    await Promise.all(
      children.map(
        (c) =>
          new Promise((r) => {
            c.once("exit", r);
            c.kill("SIGTERM");
          }),
      ),
    );
  }
}

if (values.role === "echo") await echo(values.namespace, values.variant, values.raw);
else await coordinator();
