import { spawn } from "node:child_process";
import test from "ava";
import type { UserQuotas } from "../../contracts/quotas.ts";
import type { PublicUser } from "../../contracts/users.ts";
import { createTestDatabase } from "../helpers/db.ts";
import { startTestPlatform } from "../helpers/platform.ts";

function runCli(args: string[], stdin: string, env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ["bin/proxima.js", ...args], {
      env: { ...process.env, ...env, LOG_LEVEL: "silent" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

test("`proxima users create` reads the password from stdin and creates a usable account", async (t) => {
  const database = await createTestDatabase();
  t.teardown(() => database.drop());
  const env = { DATABASE_URL: database.url };
  const created = await runCli(
    ["users", "create", "--email", "Ops@Example.org", "--role", "admin", "--name", "Ops"],
    "operations passphrase\n",
    env,
  );
  t.is(created.code, 0, created.stderr);
  t.regex(created.stdout.trim(), /^[0-9a-f-]{36}$/);

  const weak = await runCli(["users", "create", "--email", "weak@example.org"], "letmein1\n", env);
  t.is(weak.code, 1);
  t.regex(weak.stderr, /password .*common/);
  const duplicate = await runCli(
    ["users", "create", "--email", "ops@example.org"],
    "another passphrase\n",
    env,
  );
  t.is(duplicate.code, 1);
  t.regex(duplicate.stderr, /already exists/);
  const usage = await runCli(
    ["users", "create", "--role", "emperor", "--email", "x@example.org"],
    "pw\n",
    env,
  );
  t.is(usage.code, 2);

  const platform = await startTestPlatform(
    t,
    { PROXIMA_ADMIN_EMAIL: undefined, PROXIMA_ADMIN_PASSWORD: undefined },
    {
      database,
    },
  );
  const tokens = await platform.login("ops@example.org", "operations passphrase");
  const me = await platform.request<PublicUser>("GET", "/api/v1/me", { token: tokens.accessToken });
  t.is(me.body.id, created.stdout.trim());
  t.is(me.body.role, "admin");
  t.is(me.body.name, "Ops");
});

test("`proxima users quota` sets, drops and clears an account's overrides, which a running server applies to the next request", async (t) => {
  const database = await createTestDatabase();
  t.teardown(() => database.drop());
  const env = { DATABASE_URL: database.url };
  const platform = await startTestPlatform(t, {}, { database });
  const learner = await platform.learner();
  const mine = async () =>
    (await platform.request<UserQuotas>("GET", "/api/v1/me/quotas", { token: learner.tokens.accessToken }))
      .body;

  const set = await runCli(
    ["users", "quota", learner.email, "--concurrent-runs", "5", "--gpu", "true"],
    "",
    env,
  );
  t.is(set.code, 0, set.stderr);
  t.regex(set.stdout, /^concurrent-runs\s+2\s+5\s+5$/m);
  t.deepEqual((await mine()).override, { concurrentRuns: 5, gpu: true });

  // By id; `role` drops one limit, the others stay.
  const drop = await runCli(["users", "quota", learner.user.id, "--gpu", "role"], "", env);
  t.is(drop.code, 0, drop.stderr);
  t.deepEqual((await mine()).override, { concurrentRuns: 5 });

  const bad = await runCli(
    ["users", "quota", learner.email, "--total-steps", "0", "--gpu", "maybe"],
    "",
    env,
  );
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--total-steps must be a positive integer or role/);
  t.regex(bad.stderr, /--gpu must be true, false or role/);
  t.deepEqual((await mine()).override, { concurrentRuns: 5 }, "nothing changed");

  const unknown = await runCli(["users", "quota", "nobody@example.org", "--concurrent-runs", "3"], "", env);
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /no account nobody@example.org/);

  const cleared = await runCli(["users", "quota", learner.email, "--clear"], "", env);
  t.is(cleared.code, 0, cleared.stderr);
  t.deepEqual((await mine()).override, {});
});
