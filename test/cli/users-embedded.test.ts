import { type ChildProcess, spawn } from "node:child_process";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import pg from "pg";
import { findRunningEmbeddedPostgres, processState } from "../../db/embedded.ts";
import { waitUntil } from "../helpers/wait.ts";
import { cliFor } from "./helpers.ts";

/**
 * `proxima users create` beside a running server on the embedded PostgreSQL: the cluster serves one
 * process, so the command connects to the server's (it used to fail with "in use by process N", and
 * the first admin needed a restart). The "server" is the process of test/db/fixtures/open-embedded.ts,
 * which opens the embedded database as the application does and keeps it open.
 */
const FIXTURE = fileURLToPath(new URL("../db/fixtures/open-embedded.ts", import.meta.url));
/** Below Linux's ephemeral range (32768–60999), which other tests' connections draw from. */
const PORT = 25441;

async function startServer(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", FIXTURE, "server@example.org"], {
    cwd: fileURLToPath(new URL("../..", import.meta.url)),
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d));
  await new Promise<void>((resolve, reject) => {
    let stdout = "";
    child.stdout?.on("data", (d: Buffer) => {
      stdout += d;
      if (stdout.includes("ready")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`the server exited (${code}) before ready:\n${stderr}`)));
  });
  return child;
}

test("`proxima users create` works while the server holds the embedded database, and adds the account to it", async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "proxima-users-embedded-"));
  // As root the server runs as the `postgres` user, which must enter it.
  await chmod(dataDir, 0o755);
  const env = { DATABASE_URL: "", PROXIMA_DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(PORT) };
  let server: ChildProcess | undefined;
  t.teardown(async () => {
    server?.kill("SIGKILL");
    // PostgreSQL outlives its owner's kill -9 (db/embedded.ts): stop it before removing its cluster.
    const lock = await readFile(path.join(dataDir, "postgres", "postmaster.pid"), "utf8").catch(() => "");
    const pid = Number.parseInt(lock.split("\n")[0] ?? "", 10);
    if (pid > 0 && processState(pid).alive) {
      process.kill(pid, "SIGINT");
      await waitUntil(() => !processState(pid).alive, "the embedded PostgreSQL to stop", 30_000);
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  t.is(await findRunningEmbeddedPostgres(dataDir), undefined);
  server = await startServer(env);
  const running = await findRunningEmbeddedPostgres(dataDir);
  t.is(running?.ownerPid, server.pid);
  t.is(running?.port, PORT);

  const cli = await cliFor(t);
  const created = await cli.run(["users", "create", "--email", "root@example.org", "--role", "admin"], {
    env: { ...env, LOG_LEVEL: "silent" },
    stdin: "a long passphrase\n",
  });
  t.is(created.code, 0, created.stderr);
  const id = created.stdout.trim();
  t.regex(id, /^[0-9a-f-]{36}$/);

  // The account is in the server's database, and the server still holds it.
  const password = (await readFile(path.join(dataDir, "postgres.password"), "utf8")).trim();
  const client = new pg.Client({
    connectionString: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${PORT}/proxima`,
  });
  await client.connect();
  try {
    const rows = await client.query("select id, role from users where email = $1", ["root@example.org"]);
    t.deepEqual(rows.rows, [{ id, role: "admin" }]);
  } finally {
    await client.end();
  }
  t.is((await findRunningEmbeddedPostgres(dataDir))?.ownerPid, server.pid);
});
