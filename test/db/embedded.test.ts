import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { processState, startEmbeddedPostgres } from "../../db/embedded.ts";
import { User } from "../../db/entities/index.ts";
import {
  type Database,
  type DbLogger,
  EmbeddedPostgresError,
  EmbeddedPostgresInUseError,
  openDatabase,
} from "../../db/index.ts";
import { waitUntil } from "../helpers/wait.ts";

const isRoot = os.userInfo().uid === 0;
const FIXTURE = path.join(import.meta.dirname, "fixtures", "open-embedded.ts");

/** Keeps what the database layer says, to check which path a start took. */
function recordingLogger(): DbLogger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (message: string) => {
    lines.push(message);
  };
  return { lines, info: keep, warn: keep, error: keep };
}

async function emptyDataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "proxima-embedded-"));
  // mkdtemp makes it 0700; as root the server runs as the `postgres` user, which must enter it.
  await chmod(dir, 0o755);
  return dir;
}

async function lockPid(dataDir: string): Promise<number | undefined> {
  try {
    return Number.parseInt(
      (await readFile(path.join(dataDir, "postgres", "postmaster.pid"), "utf8")).split("\n")[0] ?? "",
      10,
    );
  } catch {
    return undefined;
  }
}

async function emails(db: Database): Promise<string[]> {
  return (await db.orm.em.fork().find(User, {}, { orderBy: { email: "asc" } })).map((u) => u.email);
}

async function addUser(db: Database, email: string): Promise<void> {
  const em = db.orm.em.fork();
  em.create(User, { email, name: "Test", passwordHash: "x" });
  await em.flush();
}

/** Runs the fixture in its own Node process; resolves once it has written its user. */
async function startCrashingChild(dataDir: string, port: number, email: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", FIXTURE, email], {
    cwd: path.resolve(import.meta.dirname, "../.."),
    env: { ...process.env, PROXIMA_DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    let stdout = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes("ready")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`fixture exited (${code}) before ready:\n${stderr}`)));
  });
  return child;
}

test("the embedded server starts from nothing, keeps its data across starts, and recovers from a stale lock and a killed owner", async (t) => {
  const dataDir = await emptyDataDir();
  // Below Linux's ephemeral range (32768–60999): a port there can be taken at any moment by another
  // test's connection or listen(0) (CI once found 55432 in use).
  const port = 25432;
  const config = {
    DATABASE_URL: undefined,
    PROXIMA_DATA_DIR: dataDir,
    EMBEDDED_PG_PORT: port,
    LOG_LEVEL: "info",
  } as const;
  const open: Database[] = [];
  const children: ChildProcess[] = [];
  const openEmbedded = async (logger: DbLogger) => {
    const db = await openDatabase(config, { logger });
    open.push(db);
    return db;
  };
  t.teardown(async () => {
    for (const child of children) child.kill("SIGKILL");
    for (const db of open) await db.close().catch(() => undefined);
    // A server orphaned by a failed assertion must not outlive the test.
    const pid = await lockPid(dataDir);
    if (pid && processState(pid).alive) {
      process.kill(pid, "SIGINT");
      await waitUntil(() => !processState(pid).alive, "the orphaned server to stop", 30_000).catch(
        () => undefined,
      );
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  // 1. From nothing: initdb, the application database, migrations.
  const first = recordingLogger();
  const db1 = await openEmbedded(first);
  t.true(db1.embedded);
  t.true(first.lines.some((l) => l.includes("(first start: initialising)")));
  t.true(first.lines.some((l) => l === "created database proxima"));
  t.true(await db1.ping());
  t.regex(db1.url, new RegExp(`^postgres://postgres:[0-9a-f]+@127\\.0\\.0\\.1:${port}/proxima$`));
  await addUser(db1, "first@x.io");
  await db1.close();
  t.is(await lockPid(dataDir), undefined, "a clean stop removes postmaster.pid");

  // 2. Reused: no initdb, the row is still there.
  const second = recordingLogger();
  const db2 = await openEmbedded(second);
  t.false(second.lines.some((l) => l.includes("initialising")));
  t.deepEqual(await emails(db2), ["first@x.io"]);
  await db2.close();

  // 3. A stale postmaster.pid naming a live process that is not PostgreSQL (a reused pid), then a dead one.
  const bystander = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
  children.push(bystander);
  const lockFile = path.join(dataDir, "postgres", "postmaster.pid");
  // 0x3ffffff is above Linux's largest pid_max (2^22), so no process can have it.
  for (const pid of [bystander.pid!, 0x3ffffff]) {
    await writeFile(lockFile, `${pid}\n${path.join(dataDir, "postgres")}\n`);
    const logger = recordingLogger();
    const db = await openEmbedded(logger);
    t.true(
      logger.lines.some((l) => l.startsWith(`removed a stale postmaster.pid`) && l.includes(`pid ${pid}`)),
    );
    t.deepEqual(await emails(db), ["first@x.io"]);
    await db.close();
  }
  bystander.kill("SIGKILL");

  // 4. A live process owns the server: a second opener is refused, not handed a server to share.
  const child = await startCrashingChild(dataDir, port, "crash@x.io");
  children.push(child);
  const error = await t.throwsAsync(openDatabase(config), { instanceOf: EmbeddedPostgresInUseError });
  t.is(error?.ownerPid, child.pid!);

  // 5. kill -9 of the owner: its PostgreSQL survives, orphaned; the next start stops it and starts afresh.
  const orphan = await lockPid(dataDir);
  t.truthy(orphan);
  child.kill("SIGKILL");
  await once(child, "exit");
  t.true(processState(orphan!).alive, "the server outlives its killed parent");

  const third = recordingLogger();
  const db3 = await openEmbedded(third);
  t.true(third.lines.some((l) => l.startsWith(`stopping PostgreSQL (pid ${orphan})`)));
  t.false(processState(orphan!).alive);
  t.not(await lockPid(dataDir), orphan);
  t.deepEqual(await emails(db3), ["crash@x.io", "first@x.io"]);
  await db3.close();
});

(isRoot ? test : test.skip)(
  "as root, a data directory the postgres user cannot enter is refused with the reason",
  async (t) => {
    const parent = await mkdtemp(path.join(os.tmpdir(), "proxima-private-"));
    t.teardown(() => rm(parent, { recursive: true, force: true }));
    const error = await t.throwsAsync(
      startEmbeddedPostgres({ dataDir: path.join(parent, "data"), port: 25433 }),
      {
        instanceOf: EmbeddedPostgresError,
      },
    );
    t.regex(error?.message ?? "", /cannot enter .*proxima-private-.*chmod o\+x/);
  },
);
