import { randomUUID } from "node:crypto";
import test from "ava";
import { openDatabase } from "../../db/index.ts";
import { createTestDatabase } from "../helpers/db.ts";

test("the run metadata migration names the runs of sweeps' trials made before it after their sweep, and marks them", async (t) => {
  const target = await createTestDatabase();
  t.teardown(target.drop);
  const db = await openDatabase(
    { DATABASE_URL: target.url, PROXIMA_DATA_DIR: ".data", EMBEDDED_PG_PORT: 54329, LOG_LEVEL: "info" },
    { migrate: false },
  );
  t.teardown(db.close);
  await db.orm.migrator.up({ to: "Migration20261206070645_invites" });
  const sql = db.orm.em.getConnection();
  const [user, sweep, trialRun, ownRun] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  await sql.execute(
    `insert into "users" ("id", "email", "name", "password_hash", "created_at", "updated_at")
     values (?, 'm@example.org', 'M', 'x', now(), now())`,
    [user],
  );
  await sql.execute(
    `insert into "sweeps" ("id", "owner_id", "name", "env_id", "method", "definition", "created_at", "updated_at")
     values (?, ?, 'lr grid', 'CartPole-v1', 'grid', '{}', now(), now())`,
    [sweep, user],
  );
  for (const run of [trialRun, ownRun]) {
    await sql.execute(
      `insert into "runs" ("id", "owner_id", "env_id", "config", "seed", "total_steps", "resources", "created_at", "updated_at")
       values (?, ?, 'CartPole-v1', '{}', 1, 128, '{}', now(), now())`,
      [run, user],
    );
  }
  await sql.execute(
    `insert into "sweep_trials" ("id", "sweep_id", "index", "params", "seed", "total_steps", "run_id", "rungs", "created_at", "updated_at")
     values (?, ?, 3, '{}', 1, 128, ?, '[]', now(), now())`,
    [randomUUID(), sweep, trialRun],
  );

  await db.orm.migrator.up({ to: "Migration20261206223518_run_metadata" });
  const rows = await sql.execute<
    { id: string; name: string | null; sweep_id: string | null; trial_index: number | null; tags: string[] }[]
  >(`select "id", "name", "sweep_id", "trial_index", "tags" from "runs" order by "id" = ? desc`, [trialRun]);
  t.deepEqual(rows, [
    { id: trialRun, name: "lr grid #3", sweep_id: sweep, trial_index: 3, tags: [] },
    { id: ownRun, name: null, sweep_id: null, trial_index: null, tags: [] },
  ]);
});
