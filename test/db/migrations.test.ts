import { readdir } from "node:fs/promises";
import { ValidationError } from "@mikro-orm/postgresql";
import test from "ava";
import { User } from "../../db/entities/index.ts";
import { type Database, openDatabase } from "../../db/index.ts";
import { MIGRATIONS_DIR } from "../../db/orm.ts";
import { createTestDatabase } from "../helpers/db.ts";

async function openTestDatabase(
  t: import("ava").ExecutionContext,
  opts: { migrate?: boolean } = {},
): Promise<Database> {
  const target = await createTestDatabase();
  t.teardown(target.drop);
  const db = await openDatabase(
    { DATABASE_URL: target.url, PROXIMA_DATA_DIR: ".data", EMBEDDED_PG_PORT: 54329, LOG_LEVEL: "info" },
    opts,
  );
  t.teardown(db.close);
  return db;
}

async function checkedInMigrations(): Promise<string[]> {
  return (await readdir(MIGRATIONS_DIR))
    .filter((f) => /^Migration\d+.*\.ts$/.test(f))
    .map((f) => f.replace(/\.ts$/, ""))
    .sort();
}

test("every checked-in migration applies to a fresh database, and the schema then matches the entities", async (t) => {
  const db = await openTestDatabase(t);
  t.false(db.embedded);
  const executed = (await db.orm.migrator.getExecuted()).map((m) => m.name).sort();
  t.deepEqual(executed, await checkedInMigrations());
  t.true(executed.length > 0);

  const diff = await db.orm.schema.getUpdateSchemaMigrationSQL({ wrap: false });
  t.is(
    diff.up.trim(),
    "",
    "the entities changed without a migration: run `npm run db:migration:create -- <name>`",
  );
});

test("the active runs have an index of their own: the orphan scan's plan uses it, not a scan of every run", async (t) => {
  const db = await openTestDatabase(t);
  const conn = db.orm.em.fork().getConnection();
  const [index] = await conn.execute<{ indexdef: string }[]>(
    `select "indexdef" from pg_indexes where "tablename" = 'runs' and "indexname" = 'runs_active_status_index'`,
  );
  t.regex(
    index?.indexdef ?? "",
    /WHERE \(status = ANY \(ARRAY\['queued'::text, 'running'::text, 'stopping'::text\]\)\)/,
  );
  // An empty table is scanned whatever its indexes: with sequential scans off, the planner says
  // whether the index can answer the scan's condition at all.
  const plan = await db.orm.em.fork().transactional(async (tx) => {
    await tx.execute("set local enable_seqscan = off");
    const rows = await tx.execute<{ "QUERY PLAN": string }[]>(
      `explain select "id" from "runs" where "status" in ('queued', 'running', 'stopping') and "lease_until" < now()`,
    );
    return rows.map((r) => r["QUERY PLAN"]).join("\n");
  });
  t.regex(plan, /runs_active_status_index/);
});

test("opening an up-to-date database applies nothing", async (t) => {
  const db = await openTestDatabase(t);
  t.deepEqual(await db.orm.migrator.getPending(), []);
  t.deepEqual(await db.orm.migrator.up(), []);
});

test("migrations are left alone when asked, and roll back down to an empty schema", async (t) => {
  const db = await openTestDatabase(t, { migrate: false });
  t.is((await db.orm.migrator.getPending()).length, (await checkedInMigrations()).length);

  await db.orm.migrator.up();
  await db.orm.migrator.down({ to: 0 });
  const tables = await db.orm.em
    .fork()
    .getConnection()
    .execute<{ table_name: string }[]>(
      "select table_name from information_schema.tables where table_schema = 'public' and table_name <> 'mikro_orm_migrations'",
    );
  t.deepEqual(tables, []);
});

test("ping answers true while connected and false once closed", async (t) => {
  const db = await openTestDatabase(t);
  t.true(await db.ping());
  await db.close();
  t.false(await db.ping());
  await t.notThrowsAsync(db.close(), "close is idempotent");
});

test("the global EntityManager refuses work: each request must fork its own", async (t) => {
  const db = await openTestDatabase(t);
  await t.throwsAsync(db.orm.em.find(User, {}), { instanceOf: ValidationError, message: /global/ });
  await t.notThrowsAsync(db.orm.em.fork().find(User, {}));
});
