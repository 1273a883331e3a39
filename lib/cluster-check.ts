import os from "node:os";
import { ServiceBroker } from "moleculer";
import { loadConfig } from "../config.ts";
import { createBrokerOptions, type NodeMetadata } from "../moleculer.config.ts";
import { createRootLogger } from "./logger.ts";

/**
 * Is a Proxima cluster whole? It joins the cluster's NATS namespace as a broker of its own (hosting
 * nothing), reads the broker's node list, and asks the API's `/readyz`. Used by the chart's
 * `helm test` pod (`node dist/lib/cluster-check.js`), by `npm run cluster` and by its test.
 * The node list needs no account: it comes from the transporter, not from the API.
 */
export type Role = "api" | "controller" | "worker";

export interface ClusterNode {
  nodeID: string;
  roles: Role[];
  services: string[];
  workerSlots: number;
  gpu: boolean;
  backend: string;
}

export interface ClusterExpectation {
  /** At least this many nodes per role. */
  api?: number;
  controller?: number;
  worker?: number;
  /** Worker nodes whose GPU backend loaded (they advertise `gpu: true`). */
  gpuWorker?: number;
}

export interface ClusterCheckOptions {
  natsUrl: string;
  namespace: string;
  /** Base URL of the API (its `/readyz` must answer 200); skipped when not given. */
  apiUrl?: string;
  expect: ClusterExpectation;
  /** Give up after this long (the cluster may still be starting). */
  timeoutMs: number;
}

export interface ClusterCheckResult {
  ok: boolean;
  ready: boolean | null;
  nodes: ClusterNode[];
  /** What is still missing when `ok` is false, one line each. */
  missing: string[];
}

/** A node's roles from the services its metadata lists (an all-in-one node has every role). */
export function rolesOf(services: readonly string[]): Role[] {
  const roles: Role[] = [];
  if (services.includes("api")) roles.push("api");
  if (services.includes("runs")) roles.push("controller");
  if (services.includes("workers")) roles.push("worker");
  return roles;
}

export async function checkCluster(opts: ClusterCheckOptions): Promise<ClusterCheckResult> {
  const config = loadConfig({
    NATS_URL: opts.natsUrl,
    MOLECULER_NAMESPACE: opts.namespace,
    NODE_ID: `cluster-check-${os.hostname()}-${process.pid}`,
    LOG_LEVEL: "silent",
  });
  const broker = new ServiceBroker(createBrokerOptions(config, [], createRootLogger(config)));
  const deadline = Date.now() + opts.timeoutMs;
  let result: ClusterCheckResult = { ok: false, ready: null, nodes: [], missing: ["not connected to NATS"] };
  let connected = false;
  const started = broker.start().then(() => {
    connected = true;
  });
  try {
    // Unreferenced: a pending give-up timer must not keep a finished process alive.
    await Promise.race([started, new Promise((resolve) => setTimeout(resolve, opts.timeoutMs).unref())]);
    if (!connected) throw notConnected(opts);
    for (;;) {
      result = await inspect(broker, opts);
      if (result.ok || Date.now() >= deadline) return result;
      await sleep(500);
    }
  } catch (err) {
    return { ...result, missing: [err instanceof Error ? err.message : String(err)] };
  } finally {
    // A start still retrying the connection is abandoned: stop() ends its retry loop.
    await Promise.race([broker.stop().catch(() => {}), new Promise((r) => setTimeout(r, 5_000).unref())]);
  }
}

async function inspect(broker: ServiceBroker, opts: ClusterCheckOptions): Promise<ClusterCheckResult> {
  const nodes = broker.registry
    .getNodeList({ onlyAvailable: true, withServices: false })
    .filter((n) => !n.local)
    .map((n): ClusterNode => {
      const meta = (n.metadata ?? {}) as Partial<NodeMetadata>;
      const services = meta.services ?? [];
      return {
        nodeID: n.id,
        roles: rolesOf(services),
        services,
        workerSlots: meta.workerSlots ?? 0,
        gpu: meta.gpu === true,
        backend: meta.backend ?? "unknown",
      };
    })
    // Other observers (a second check, `npm run cluster`'s own, a helm test pod) host no services:
    // they are not members of the cluster.
    .filter((n) => n.services.length > 0)
    .sort((a, b) => a.nodeID.localeCompare(b.nodeID));
  const missing: string[] = [];
  for (const role of ["api", "controller", "worker"] as const) {
    const want = opts.expect[role] ?? 0;
    const have = nodes.filter((n) => n.roles.includes(role)).length;
    if (have < want) missing.push(`${role} nodes: ${have} of ${want}`);
  }
  const gpuWant = opts.expect.gpuWorker ?? 0;
  const gpuHave = nodes.filter((n) => n.roles.includes("worker") && n.gpu).length;
  if (gpuHave < gpuWant) missing.push(`GPU worker nodes: ${gpuHave} of ${gpuWant}`);
  let ready: boolean | null = null;
  if (opts.apiUrl) {
    ready = await fetch(new URL("/readyz", opts.apiUrl), { signal: AbortSignal.timeout(5_000) }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (!ready) missing.push(`${opts.apiUrl}/readyz is not 200`);
  }
  return { ok: missing.length === 0, ready, nodes, missing };
}

function notConnected(opts: ClusterCheckOptions): Error {
  return new Error(`could not connect to ${opts.natsUrl} within ${opts.timeoutMs} ms`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Renders the result for a terminal or a `helm test` log. */
export function formatResult(result: ClusterCheckResult): string {
  const lines = result.nodes.map(
    (n) =>
      `  ${n.nodeID}  roles=${n.roles.join(",") || "-"}  services=${n.services.join(",")}` +
      (n.roles.includes("worker") ? `  slots=${n.workerSlots} gpu=${n.gpu} backend=${n.backend}` : ""),
  );
  const head = result.ok ? "cluster OK" : `cluster NOT OK: ${result.missing.join("; ")}`;
  const ready = result.ready === null ? "" : `\napi /readyz: ${result.ready ? "200" : "not ready"}`;
  return `${head}${ready}\nnodes (${result.nodes.length}):\n${lines.join("\n")}\n`;
}

const count = (value: string | undefined, fallback: number): number => {
  const n = value === undefined || value === "" ? fallback : Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`expected a whole number, got "${value}"`);
  return n;
};

// `node dist/lib/cluster-check.js` (the helm test pod) or `npx tsx lib/cluster-check.ts`.
if (import.meta.main) {
  const env = process.env;
  if (!env["NATS_URL"]) {
    process.stderr.write("cluster-check: NATS_URL is required\n");
    process.exit(2);
  }
  const result = await checkCluster({
    natsUrl: env["NATS_URL"],
    namespace: env["MOLECULER_NAMESPACE"] || "proxima",
    apiUrl: env["API_URL"] || undefined,
    expect: {
      api: count(env["EXPECT_API_NODES"], 1),
      controller: count(env["EXPECT_CONTROLLER_NODES"], 1),
      worker: count(env["EXPECT_WORKER_NODES"], 1),
      gpuWorker: count(env["EXPECT_GPU_WORKER_NODES"], 0),
    },
    timeoutMs: count(env["CHECK_TIMEOUT_S"], 120) * 1000,
  });
  process.stdout.write(formatResult(result));
  process.exit(result.ok ? 0 : 1);
}
