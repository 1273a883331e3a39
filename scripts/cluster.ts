/**
 * `npm run cluster`: the chart's topology on one machine. It uses (or starts) NATS and PostgreSQL,
 * then starts an api, a controller and worker processes with the roles and environment variables
 * the Helm chart gives its pods (SERVICES, NODE_ID, NATS_URL, DATABASE_URL, JWT_SECRET, HEALTH_PORT,
 * WORKER_SLOTS, …), prefixes every log line with its process, and on Ctrl-C stops them all the way
 * Kubernetes does: SIGTERM, then SIGKILL after a grace period. The processes themselves are
 * scripts/local-cluster.ts's (bench:soak starts the same ones).
 *
 *   npm run cluster                               api on :3000, a controller, two workers
 *   npm run cluster -- --workers 3 --slots 4      more runners
 *   NATS_URL=… DATABASE_URL=… npm run cluster     use these instead of finding or starting them
 *
 * NATS: NATS_URL, else nats://127.0.0.1:4222 when something listens there, else a `nats-server -js`
 * started here (when the binary is on PATH). PostgreSQL: DATABASE_URL, else the local server on
 * 127.0.0.1:5432 (user postgres) with a `proxima_cluster` database, else an embedded PostgreSQL under
 * .data/cluster. State lives under .data/cluster (one data dir per process, like the pods' emptyDirs).
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { formatResult } from "../lib/cluster-check.ts";
import { LocalCluster, ROOT } from "./local-cluster.ts";

const { values: args } = parseArgs({
  options: {
    workers: { type: "string", default: "2" },
    slots: { type: "string", default: "2" },
    port: { type: "string", default: process.env["PORT"] ?? "3000" },
    "health-port": { type: "string", default: "9090" },
    grace: { type: "string", default: "30" },
    "data-dir": { type: "string", default: path.join(ROOT, ".data", "cluster") },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (args.help) {
  process.stdout.write(
    "usage: npm run cluster -- [--workers N] [--slots N] [--port P] [--health-port P] [--grace S] [--json]\n" +
      "  --workers      worker processes (default 2)\n" +
      "  --slots        WORKER_SLOTS of each worker (default 2)\n" +
      "  --port         the API's port (default PORT or 3000)\n" +
      "  --health-port  first HEALTH_PORT of controller, workers and API, counting up (default 9090; 0: any free port)\n" +
      "  --grace        seconds between SIGTERM and SIGKILL at Ctrl-C (default 30)\n" +
      "  --data-dir     where state lives (default .data/cluster)\n" +
      "  --json         print the processes' JSON log lines as they are\n",
  );
  process.exit(0);
}

function whole(name: string, value: string | undefined, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`cluster: --${name} must be a whole number ≥ ${min} (got "${value}")\n`);
    process.exit(2);
  }
  return n;
}

const WORKERS = whole("workers", args.workers, 1);
const SLOTS = whole("slots", args.slots, 1);
const API_PORT = whole("port", args.port, 0);
const HEALTH_BASE = whole("health-port", args["health-port"], 0);
const GRACE_MS = whole("grace", args.grace, 0) * 1000;
const DATA_DIR = path.resolve(args["data-dir"]!);
const NAMESPACE = process.env["MOLECULER_NAMESPACE"] || "proxima";

const cluster = new LocalCluster({
  workers: WORKERS,
  slots: SLOTS,
  apiPort: API_PORT,
  healthBase: HEALTH_BASE,
  graceMs: GRACE_MS,
  dataDir: DATA_DIR,
  namespace: NAMESPACE,
  json: args.json === true,
  onAllExited: () => void shutdown(1),
});

let shuttingDown: Promise<void> | undefined;

/** Stops every process (scripts/local-cluster.ts: SIGTERM, SIGKILL after the grace), then exits. */
function shutdown(code: number): Promise<void> {
  shuttingDown ??= cluster.stop().then(() => process.exit(code));
  return shuttingDown;
}

// Under `npm run`, one Ctrl-C arrives more than once (from the terminal and relayed by npm and tsx):
// a repeat within a second is the same request; a later one means "now".
let firstSignal = 0;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    if (firstSignal === 0) {
      firstSignal = Date.now();
      void shutdown(0);
    } else if (Date.now() - firstSignal > 1000) {
      cluster.say("second signal: SIGKILL to every process");
      cluster.kill();
      process.exit(1);
    }
  });
}
// Whatever ends this script, no child outlives it.
process.on("exit", () => cluster.kill());

async function main(): Promise<void> {
  const result = await cluster.start();
  if (!result) return;
  for (const line of formatResult(result).trimEnd().split("\n")) cluster.say(line);
  if (result.ok) cluster.say(`ready: ${cluster.apiUrl} (Ctrl-C stops everything)`);
  else cluster.say("the cluster did not come up whole; the processes keep running (Ctrl-C stops them)");
}

main().catch((err: unknown) => {
  cluster.say(`failed: ${err instanceof Error ? err.message : String(err)}`);
  void shutdown(1);
});
