import { spawn } from "node:child_process";
import test from "ava";
import { checkCluster } from "../../lib/cluster-check.ts";
import { createTestDatabase } from "../helpers/db.ts";
import { freePort, NATS_URL, ROOT, tempDir, uniqueNamespace, waitForUrl } from "./helpers.ts";

/** `npm run cluster` as a user runs it: the chart's roles as processes, all stopped by one Ctrl-C. */
test("npm run cluster starts an api, a controller and two workers over NATS, and Ctrl-C stops every one of them", async (t) => {
  const db = await createTestDatabase();
  t.teardown(() => db.drop());
  const port = await freePort();
  const namespace = uniqueNamespace();
  const script = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "scripts/cluster.ts",
      "--port",
      String(port),
      "--health-port",
      "0",
      "--data-dir",
      await tempDir(t),
      "--json",
    ],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        NATS_URL,
        DATABASE_URL: db.url,
        MOLECULER_NAMESPACE: namespace,
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  script.stdout.on("data", (d: Buffer) => {
    output += d.toString();
  });
  script.stderr.on("data", (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<number | string>((resolve) =>
    script.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  const pids = () =>
    [...output.matchAll(/\] (\S+) pid=(\d+)/g)].map((m) => ({ name: m[1]!, pid: Number(m[2]) }));
  t.teardown(() => {
    for (const { pid } of pids()) if (isAlive(pid)) process.kill(pid, "SIGKILL");
    if (script.exitCode === null) script.kill("SIGKILL");
  });

  const ready = await waitForUrl(
    null,
    `http://127.0.0.1:${port}/readyz`,
    (s) => s === 200 || script.exitCode !== null,
  );
  t.is(ready.status, 200, output);
  const cluster = await checkCluster({
    natsUrl: NATS_URL,
    namespace,
    expect: { api: 1, controller: 1, worker: 2 },
    timeoutMs: 60_000,
  });
  t.true(cluster.ok, `${cluster.missing.join("; ")}\n${output}`);
  t.is(cluster.nodes.length, 4);
  t.deepEqual(cluster.nodes.map((n) => n.roles.join(",")).sort(), ["api", "controller", "worker", "worker"]);
  const controller = cluster.nodes.find((n) => n.roles.includes("controller"))!;
  t.true(controller.services.includes("users") && controller.services.includes("runs"));
  for (const worker of cluster.nodes.filter((n) => n.roles.includes("worker"))) t.is(worker.workerSlots, 2);

  const children = pids();
  t.deepEqual(children.map((c) => c.name).sort(), ["api", "controller", "worker-1", "worker-2"]);
  t.true(children.every((c) => isAlive(c.pid)));

  script.kill("SIGINT");
  t.is(await exited, 0, output);
  for (const { name, pid } of children) t.false(isAlive(pid), `${name} (pid ${pid}) is gone`);
  t.regex(output, /stopping api, controller, worker-1, worker-2 \(SIGTERM/);
  for (const { name } of children) t.regex(output, new RegExp(`${name} exited \\(code 0\\)`));
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
