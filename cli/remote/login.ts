import { parseArgs } from "node:util";
import { readLine, readSecret } from "../prompt.ts";
import { login, normaliseServer, RemoteClient, reportError } from "./client.ts";
import { credentialsPath, deleteCredentials, NotLoggedInError, saveCredentials } from "./credentials.ts";

/**
 * `proxima login --server URL [--email E]`: logs in to a Proxima API and stores the session (see
 * credentials.ts). The password comes from stdin or a no-echo prompt. `proxima logout` revokes it.
 */
const USAGE = `usage: proxima login --server <url> [--email <email>]
The password is read from stdin (one line), or prompted for without echo on a terminal.
`;

export async function run(argv: string[]): Promise<number> {
  let values: { server?: string; email?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        server: { type: "string", short: "s" },
        email: { type: "string", short: "e" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
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
  if (argv.length > 0) {
    process.stderr.write("usage: proxima logout\n");
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
