import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import path from "node:path";

/**
 * Where `proxima login` keeps the session: `$XDG_CONFIG_HOME/proxima/credentials.json` (XDG Base
 * Directory Specification), else `~/.config/proxima/credentials.json`. The folder is 0700 and the
 * file 0600, written to a private temporary file and renamed, so that it is never readable by others,
 * not even for an instant, and never half-written.
 */
export interface Credentials {
  server: string;
  email: string;
  accessToken: string;
  /** When the access token expires (ms since the epoch). */
  expiresAt: number;
  refreshToken: string;
}

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env["XDG_CONFIG_HOME"] || path.join(homedir(), ".config");
  return path.join(base, "proxima");
}

export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(configDir(env), "credentials.json");
}

export class NotLoggedInError extends Error {
  override name = "NotLoggedInError";
  constructor() {
    super("not logged in: run `proxima login --server URL` first");
  }
}

export async function loadCredentials(): Promise<Credentials> {
  let text: string;
  try {
    text = await readFile(credentialsPath(), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new NotLoggedInError();
    throw err;
  }
  const parsed = JSON.parse(text) as Partial<Credentials>;
  if (!parsed.server || !parsed.refreshToken || !parsed.accessToken) throw new NotLoggedInError();
  return parsed as Credentials;
}

export async function saveCredentials(credentials: Credentials): Promise<void> {
  const dir = configDir();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = credentialsPath();
  const temporary = path.join(dir, `.credentials-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    await writeFile(temporary, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600, flag: "wx" });
    // The umask cannot widen 0600, but an existing file keeps its mode across rename: set it anyway.
    await chmod(temporary, 0o600);
    await rename(temporary, file);
  } finally {
    await rm(temporary, { force: true });
  }
}

export async function deleteCredentials(): Promise<void> {
  await rm(credentialsPath(), { force: true });
}
