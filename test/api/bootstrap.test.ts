import test from "ava";
import type { PublicUser } from "../../contracts/users.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { startTestPlatform } from "../helpers/platform.ts";

const ADMIN = { PROXIMA_ADMIN_EMAIL: "root@example.org", PROXIMA_ADMIN_PASSWORD: "first admin passphrase" };

async function withDatabase(t: import("ava").ExecutionContext): Promise<TestDatabase> {
  const database = await createTestDatabase();
  t.teardown(() => database.drop());
  return database;
}

async function adminCount(database: TestDatabase, t: import("ava").ExecutionContext): Promise<number> {
  const platform = await startTestPlatform(
    t,
    { PROXIMA_ADMIN_EMAIL: undefined, PROXIMA_ADMIN_PASSWORD: undefined },
    {
      database,
    },
  );
  const rows = await platform.platform.db.orm.em
    .fork()
    .getConnection()
    .execute<{ n: string }[]>("select count(*) as n from users where role = 'admin'");
  await platform.stop();
  return Number(rows[0]!.n);
}

test("the bootstrap admin is created once, and a restart with another password changes nothing", async (t) => {
  const database = await withDatabase(t);
  const first = await startTestPlatform(t, ADMIN, { database });
  await first.login(ADMIN.PROXIMA_ADMIN_EMAIL, ADMIN.PROXIMA_ADMIN_PASSWORD);
  await first.stop();

  const second = await startTestPlatform(
    t,
    { ...ADMIN, PROXIMA_ADMIN_PASSWORD: "a different passphrase" },
    { database },
  );
  const tokens = await second.login(ADMIN.PROXIMA_ADMIN_EMAIL, ADMIN.PROXIMA_ADMIN_PASSWORD);
  const me = await second.request<PublicUser>("GET", "/api/v1/me", { token: tokens.accessToken });
  t.is(me.body.role, "admin");
  const changed = await second.request("POST", "/api/v1/auth/login", {
    body: { email: ADMIN.PROXIMA_ADMIN_EMAIL, password: "a different passphrase" },
  });
  t.is(changed.status, 401, "the existing password was not overwritten");
  await second.stop();

  const third = await startTestPlatform(
    t,
    { ...ADMIN, PROXIMA_ADMIN_EMAIL: "another-root@example.org" },
    { database },
  );
  const other = await third.request("POST", "/api/v1/auth/login", {
    body: { email: "another-root@example.org", password: ADMIN.PROXIMA_ADMIN_PASSWORD },
  });
  t.is(other.status, 401, "no second admin while one exists");
  await third.stop();
  t.is(await adminCount(database, t), 1);
});

test("the bootstrap never takes over an existing non-admin account", async (t) => {
  const database = await withDatabase(t);
  const plain = await startTestPlatform(
    t,
    { PROXIMA_ADMIN_EMAIL: undefined, PROXIMA_ADMIN_PASSWORD: undefined },
    {
      database,
    },
  );
  const { email, password } = await plain.register({ email: "taken@example.org" });
  await plain.stop();

  const again = await startTestPlatform(
    t,
    { PROXIMA_ADMIN_EMAIL: email, PROXIMA_ADMIN_PASSWORD: "takeover passphrase" },
    {
      database,
    },
  );
  const tokens = await again.login(email, password);
  const me = await again.request<PublicUser>("GET", "/api/v1/me", { token: tokens.accessToken });
  t.is(me.body.role, "learner");
  await again.stop();
  t.is(await adminCount(database, t), 0);
});

test("a bootstrap password that breaks the password policy stops the start with a clear reason", async (t) => {
  const error = await t.throwsAsync(
    startTestPlatform(t, { PROXIMA_ADMIN_EMAIL: "weak@example.org", PROXIMA_ADMIN_PASSWORD: "password1" }),
  );
  t.regex(error.message, /PROXIMA_ADMIN_PASSWORD.*password is too common/);
});

test("/readyz answers 503 when the database is gone", async (t) => {
  const platform = await startTestPlatform(t);
  t.is((await platform.request("GET", "/readyz")).status, 200);
  await platform.platform.db.close();
  const res = await platform.request<{ checks: { database: boolean } }>("GET", "/readyz");
  t.is(res.status, 503);
  t.false(res.body.checks.database);
});
