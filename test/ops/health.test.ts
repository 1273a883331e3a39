import test, { type ExecutionContext } from "ava";
import { checkCluster } from "../../lib/cluster-check.ts";
import { createTestDatabase } from "../helpers/db.ts";
import { freePort, NATS_URL, startProxima, tempDir, uniqueNamespace, waitForUrl } from "./helpers.ts";

/** A worker process as the chart runs it: no API, the probe/metrics port on HEALTH_PORT. */
async function startWorker(t: ExecutionContext, env: Record<string, string> = {}) {
  const db = await createTestDatabase();
  t.teardown(() => db.drop());
  const port = await freePort();
  const namespace = uniqueNamespace();
  const proc = startProxima(t, {
    SERVICES: "workers",
    NATS_URL,
    MOLECULER_NAMESPACE: namespace,
    DATABASE_URL: db.url,
    PROXIMA_DATA_DIR: await tempDir(t),
    HEALTH_PORT: String(port),
    WORKER_SLOTS: "2",
    ...env,
  });
  return { proc, url: `http://127.0.0.1:${port}`, namespace };
}

test("a worker process serves /healthz, /readyz and the broker's Prometheus metrics on HEALTH_PORT", async (t) => {
  const { proc, url } = await startWorker(t);
  const ready = await waitForUrl(proc, `${url}/readyz`);
  t.deepEqual(await ready.json(), { status: "ready", checks: { started: true, transporter: true } });

  const live = await fetch(`${url}/healthz`);
  t.is(live.status, 200);
  t.deepEqual(await live.json(), { status: "ok" });

  const metrics = await fetch(`${url}/metrics`);
  t.is(metrics.status, 200);
  t.regex(metrics.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await metrics.text();
  t.regex(text, /^# TYPE moleculer_/m, "the broker's metrics are exposed");
  t.regex(text, /^moleculer_transit_connected 1$/m, "the transporter connection is exposed");

  const unknown = await fetch(`${url}/nope`);
  t.is(unknown.status, 404);
  const post = await fetch(`${url}/readyz`, { method: "POST" });
  t.is(post.status, 405);
  t.is(post.headers.get("allow"), "GET, HEAD");

  proc.child.kill("SIGTERM");
  t.is(await proc.exited, 0, proc.output());
});

test("a worker that cannot reach NATS is alive but not ready", async (t) => {
  const closed = await freePort();
  const { proc, url } = await startWorker(t, { NATS_URL: `nats://127.0.0.1:${closed}` });
  const live = await waitForUrl(proc, `${url}/healthz`);
  t.deepEqual(await live.json(), { status: "ok" });
  const ready = await fetch(`${url}/readyz`);
  t.is(ready.status, 503);
  t.deepEqual(await ready.json(), { status: "not-ready", checks: { started: false, transporter: false } });
});

test("a worker asked for a GPU advertises none (and the wasm backend) when the GPU backend cannot load", async (t) => {
  // @tensorflow/tfjs-node-gpu is not installed here (it is only in the GPU image).
  const { proc, url, namespace } = await startWorker(t, {
    WORKER_GPU: "true",
    PROXIMA_BACKEND: "tensorflow",
  });
  await waitForUrl(proc, `${url}/readyz`);
  const result = await checkCluster({
    natsUrl: NATS_URL,
    namespace,
    expect: { worker: 1 },
    timeoutMs: 30_000,
  });
  t.true(result.ok, result.missing.join("; "));
  const [worker] = result.nodes;
  t.like(worker, { roles: ["worker"], gpu: false, backend: "wasm", workerSlots: 2 });
  t.regex(proc.output(), /WORKER_GPU is set but the GPU backend did not load/);
});
