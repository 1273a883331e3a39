import { randomBytes } from "node:crypto";
import { link, mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Config } from "../../config.ts";
import type { Logger } from "../../lib/logger.ts";

/**
 * The HMAC secret of access tokens. Production must set JWT_SECRET (every API and users replica has to
 * share it). Elsewhere a random secret is generated once and kept under PROXIMA_DATA_DIR so that
 * tokens survive a restart and every process on the machine agrees; it is never a constant in code and
 * never logged.
 */
export class JwtSecretError extends Error {
  override name = "JwtSecretError";
}

const MIN_LENGTH = 32;
const resolved = new Map<string, Promise<string>>();

export function jwtSecretPath(config: Pick<Config, "PROXIMA_DATA_DIR">): string {
  return path.resolve(config.PROXIMA_DATA_DIR, "jwt-secret");
}

export function resolveJwtSecret(
  config: Pick<Config, "JWT_SECRET" | "NODE_ENV" | "PROXIMA_DATA_DIR">,
  logger: Logger,
): Promise<string> {
  if (config.JWT_SECRET) return Promise.resolve(config.JWT_SECRET);
  if (config.NODE_ENV === "production") {
    return Promise.reject(
      new JwtSecretError(
        "JWT_SECRET is required in production (at least 32 characters, e.g. `openssl rand -base64 48`)",
      ),
    );
  }
  const file = jwtSecretPath(config);
  // One read per file and process: the api and users services of one process share the answer.
  let secret = resolved.get(file);
  if (!secret) {
    secret = readOrCreate(file, logger);
    resolved.set(file, secret);
    secret.catch(() => resolved.delete(file));
  }
  return secret;
}

async function readOrCreate(file: string, logger: Logger): Promise<string> {
  const existing = await readSecret(file);
  if (existing !== undefined) {
    logger.warn({ file }, "JWT_SECRET is not set: using the development secret stored in this file");
    return existing;
  }
  await mkdir(path.dirname(file), { recursive: true });
  const fresh = randomBytes(48).toString("base64url");
  // Written whole to a private temporary file, then linked into place: link() fails when the file
  // exists, so two processes starting at once agree on one secret and nobody reads a half-written one.
  const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(temp, `${fresh}\n`, { mode: 0o600, flag: "wx" });
  try {
    await link(temp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    const winner = await readSecret(file);
    if (winner === undefined) throw err;
    return winner;
  } finally {
    await unlink(temp).catch(() => {});
  }
  logger.warn(
    { file },
    "JWT_SECRET is not set: generated a development secret and stored it in this file (set JWT_SECRET in production)",
  );
  return fresh;
}

async function readSecret(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  const secret = text.trim();
  if (secret.length < MIN_LENGTH) {
    throw new JwtSecretError(
      `${file} holds a secret shorter than ${MIN_LENGTH} characters; delete it to regenerate`,
    );
  }
  return secret;
}
