import test from "ava";
import { openDatabase } from "../../db/index.ts";
import { createTestDatabase } from "../helpers/db.ts";

test("processes starting at once on a fresh database take turns at the migrations instead of racing", async (t) => {
  const target = await createTestDatabase();
  t.teardown(target.drop);
  const config = {
    DATABASE_URL: target.url,
    PROXIMA_DATA_DIR: ".data",
    EMBEDDED_PG_PORT: 54329,
    LOG_LEVEL: "info",
  } as const;
  const messages: string[] = [];
  const logger = { info: (m: string) => messages.push(m), warn: () => {}, error: () => {} };
  // Each openDatabase has its own ORM and pool, as separate processes would.
  const dbs = await Promise.all([1, 2, 3, 4].map(() => openDatabase(config, { logger })));
  t.teardown(() => Promise.all(dbs.map((db) => db.close())));
  t.is(messages.filter((m) => m.startsWith("applied ")).length, 1, "exactly one applied the migrations");
  t.is(messages.filter((m) => m === "database schema is up to date").length, 3);
  for (const db of dbs) t.true(await db.ping());
});
