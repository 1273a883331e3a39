import { type CommandSpec, type OptionTable, parseCommand, usageLine } from "../command.ts";
import { readLine, readSecret } from "../prompt.ts";
import { login, normaliseServer, RemoteClient, reportError } from "./client.ts";
import { credentialsPath, deleteCredentials, NotLoggedInError, saveCredentials } from "./credentials.ts";

/**
 * `proxima login --server URL [--email E]`: logs in to a Proxima API and stores the session (see
 * credentials.ts). The password comes from stdin or a no-echo prompt. `proxima logout` revokes it.
 */
export const LOGIN = {
  name: "proxima login",
  summary:
    "Logs in to a Proxima server and keeps the session for the remote commands (runs, sweeps, submit).",
  options: {
    server: {
      type: "string",
      short: "s",
      value: "URL",
      description: "the server, e.g. http://localhost:3000",
    },
    email: { type: "string", short: "e", value: "EMAIL", description: "your account; default: asked for" },
  },
  notes: "The password is read from stdin (one line), or prompted for without echo on a terminal.",
} satisfies CommandSpec<OptionTable>;

export const LOGOUT = {
  name: "proxima logout",
  summary: "Revokes the stored session on the server and removes it here.",
  options: {},
} satisfies CommandSpec<OptionTable>;

const USAGE = `usage: ${usageLine(LOGIN)} (proxima login --help describes them)\n`;

export async function run(argv: string[]): Promise<number> {
  let values: { server?: string; email?: string };
  try {
    const parsed = parseCommand(LOGIN, argv);
    if (!parsed) return 0;
    ({ values } = parsed);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (!values.server) {
    process.stderr.write(`--server is required\n${USAGE}`);
    return 2;
  }
  const server = normaliseServer(values.server);
  const email = values.email ?? (await readLine("Email"));
  const password = await readSecret("Password");
  try {
    const credentials = await login(server, email, password);
    await saveCredentials(credentials);
    process.stderr.write(`Logged in to ${server} as ${email} (session stored in ${credentialsPath()}).\n`);
    return 0;
  } catch (err) {
    return reportError("login", err);
  }
}

export async function logout(argv: string[]): Promise<number> {
  try {
    if (parseCommand(LOGOUT, argv) === null) return 0;
  } catch {
    process.stderr.write(`usage: ${usageLine(LOGOUT)}\n`);
    return 2;
  }
  try {
    const client = await RemoteClient.fromStore();
    await client.logout();
  } catch (err) {
    if (!(err instanceof NotLoggedInError)) {
      // The local session is removed whatever the server said: the user asked to be logged out here.
      process.stderr.write(`proxima logout: ${(err as Error).message} (the local session is removed)\n`);
    }
  }
  await deleteCredentials();
  process.stderr.write("Logged out.\n");
  return 0;
}
