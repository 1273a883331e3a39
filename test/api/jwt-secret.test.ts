import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import test from "ava";
import { createRootLogger } from "../../lib/logger.ts";
import { JwtSecretError, jwtSecretPath, resolveJwtSecret } from "../../services/users/jwt-secret.ts";

const logger = createRootLogger({ LOG_LEVEL: "silent", NODE_ENV: "test" });

async function tempDir(t: import("ava").ExecutionContext): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "proxima-secret-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test("JWT_SECRET, when set, is used as is", async (t) => {
  const secret = "x".repeat(40);
  t.is(
    await resolveJwtSecret(
      { JWT_SECRET: secret, NODE_ENV: "production", PROXIMA_DATA_DIR: "/nonexistent" },
      logger,
    ),
    secret,
  );
});

test("production without JWT_SECRET refuses to start", async (t) => {
  const dir = await tempDir(t);
  await t.throwsAsync(resolveJwtSecret({ NODE_ENV: "production", PROXIMA_DATA_DIR: dir }, logger), {
    instanceOf: JwtSecretError,
    message: /JWT_SECRET is required in production/,
  });
});

test("in development a random secret is generated once, kept private on disk and reused", async (t) => {
  const dir = await tempDir(t);
  const config = { NODE_ENV: "development" as const, PROXIMA_DATA_DIR: dir };
  // Two concurrent first starts agree on one secret.
  const [a, b] = await Promise.all([resolveJwtSecret(config, logger), resolveJwtSecret(config, logger)]);
  t.is(a, b);
  t.true(a.length >= 32);
  const file = jwtSecretPath(config);
  t.is((await readFile(file, "utf8")).trim(), a);
  t.is((await stat(file)).mode & 0o777, 0o600);

  const otherDir = await tempDir(t);
  const other = await resolveJwtSecret({ ...config, PROXIMA_DATA_DIR: otherDir }, logger);
  t.not(other, a, "each data directory has its own random secret");
});
