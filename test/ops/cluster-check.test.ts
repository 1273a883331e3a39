import { execFile } from "node:child_process";
import { promisify } from "node:util";
import test from "ava";
import { freePort, NATS_URL, ROOT, uniqueNamespace } from "./helpers.ts";

/**
 * The `helm test` command (`node dist/lib/cluster-check.js`, here from source): it fails, saying what
 * is missing, when the cluster is not whole. The passing case is covered by cluster.test.ts.
 */
const run = promisify(execFile);

async function check(env: Record<string, string>): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(process.execPath, ["--import", "tsx", "lib/cluster-check.ts"], {
      cwd: ROOT,
      env: { PATH: process.env["PATH"] ?? "", CHECK_TIMEOUT_S: "2", ...env },
    });
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? "" };
  }
}

test("the cluster check fails and names every missing role when the namespace has no nodes", async (t) => {
  const { code, stdout } = await check({
    NATS_URL,
    MOLECULER_NAMESPACE: uniqueNamespace(),
    EXPECT_WORKER_NODES: "2",
    EXPECT_GPU_WORKER_NODES: "1",
  });
  t.is(code, 1);
  t.regex(stdout, /^cluster NOT OK: /);
  for (const line of [
    "api nodes: 0 of 1",
    "controller nodes: 0 of 1",
    "worker nodes: 0 of 2",
    "GPU worker nodes: 0 of 1",
  ]) {
    t.true(stdout.includes(line), `${line}\n${stdout}`);
  }
});

test("the cluster check fails when NATS cannot be reached, and says so", async (t) => {
  const port = await freePort();
  const { code, stdout } = await check({ NATS_URL: `nats://127.0.0.1:${port}` });
  t.is(code, 1);
  t.true(stdout.includes(`could not connect to nats://127.0.0.1:${port}`), stdout);
});

test("the cluster check fails when the API is not ready", async (t) => {
  const port = await freePort();
  const { code, stdout } = await check({
    NATS_URL,
    MOLECULER_NAMESPACE: uniqueNamespace(),
    API_URL: `http://127.0.0.1:${port}`,
    EXPECT_API_NODES: "0",
    EXPECT_CONTROLLER_NODES: "0",
    EXPECT_WORKER_NODES: "0",
  });
  t.is(code, 1);
  t.true(stdout.includes(`http://127.0.0.1:${port}/readyz is not 200`), stdout);
});
