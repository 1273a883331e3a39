import { loadConfig } from "../config.ts";
import { findRunningEmbeddedPostgres } from "../db/embedded.ts";
import { openDatabase } from "../db/index.ts";
import { ConflictError, ValidationFailedError } from "../lib/errors.ts";
import { createUser } from "../services/users/accounts.ts";
import { EmailSchema, NameSchema, RoleSchema } from "../services/users/schemas.ts";
import {
  type CommandGroup,
  type CommandSpec,
  type OptionTable,
  parseCommand,
  runGroup,
  type Subcommand,
  usageLine,
} from "./command.ts";
import { promptSecret } from "./prompt.ts";

/**
 * `proxima users create --email E [--role learner|researcher|admin] [--name N]`: creates an account
 * directly in the database, with the same rules as registration. The password is read from stdin —
 * one line, so that `printf '%s\n' "$PW" | proxima users create ...` works in scripts — or, on a
 * terminal, typed at a prompt without echo. Never from argv: it would be visible in `ps` and history.
 *
 * The database: DATABASE_URL, or the embedded PostgreSQL under PROXIMA_DATA_DIR. While the server
 * runs, that one is the server's (a cluster serves one process): the command connects to it as the
 * server does (findRunningEmbeddedPostgres), so the first admin needs no restart.
 */
export const USERS_CREATE = {
  name: "proxima users create",
  summary: "Creates an account directly in the database, with the same rules as registration.",
  options: {
    email: { type: "string", value: "EMAIL", description: "the account's email, its login" },
    role: {
      type: "string",
      default: "learner",
      value: "learner|researcher|admin",
      description: "what the account may do",
    },
    name: { type: "string", value: "NAME", description: "its display name; default: the email's local part" },
  },
  notes:
    "The password is read from stdin (one line), or prompted for without echo on a terminal.\n" +
    "The database is DATABASE_URL or, when it is unset, the embedded PostgreSQL under PROXIMA_DATA_DIR:\n" +
    "the running server's when it runs (no restart needed), else started for this command.",
} satisfies CommandSpec<OptionTable>;

export const SUBCOMMANDS: Record<string, Subcommand> = { create: { spec: USERS_CREATE, run: create } };
export const USERS: CommandGroup = {
  name: "proxima users",
  summary: "Manages accounts directly in the database.",
  subcommands: SUBCOMMANDS,
};

export function run(argv: string[]): Promise<number> {
  return runGroup(USERS, argv);
}

const USAGE = `usage: ${usageLine(USERS_CREATE)} (proxima users create --help describes them)\n`;

async function create(argv: string[]): Promise<number> {
  let values: { email?: string; role: string; name?: string };
  try {
    const parsed = parseCommand(USERS_CREATE, argv);
    if (!parsed) return 0;
    ({ values } = parsed);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const email = EmailSchema.safeParse(values.email ?? "");
  const role = RoleSchema.safeParse(values.role);
  if (!email.success || !role.success) {
    process.stderr.write(
      `${!email.success ? "--email must be a valid email address" : "--role must be learner, researcher or admin"}\n${USAGE}`,
    );
    return 2;
  }
  const name = NameSchema.safeParse(values.name ?? email.data.split("@")[0]);
  if (!name.success) {
    process.stderr.write(`--name must be 1 to 100 characters\n`);
    return 2;
  }

  const password = await readPassword();
  if (password === undefined) {
    process.stderr.write("no password given on stdin\n");
    return 2;
  }

  const config = loadConfig();
  const running = config.DATABASE_URL
    ? undefined
    : await findRunningEmbeddedPostgres(config.PROXIMA_DATA_DIR);
  const db = await openDatabase(running ? { ...config, DATABASE_URL: running.url } : config, {
    // The running server has brought the schema up to date: it owns it.
    migrate: running === undefined,
    logger: {
      info() {},
      warn: (m) => process.stderr.write(`${m}\n`),
      error: (m) => process.stderr.write(`${m}\n`),
    },
  });
  try {
    const user = await createUser(db.orm.em.fork(), {
      email: email.data,
      password,
      name: name.data,
      role: role.data,
    });
    process.stdout.write(`${user.id}\n`);
    return 0;
  } catch (err) {
    if (err instanceof ValidationFailedError) {
      const problems = (err.data as { errors: { field: string; message: string }[] }).errors;
      process.stderr.write(`${problems.map((p) => `${p.field} ${p.message}`).join("\n")}\n`);
      return 1;
    }
    if (err instanceof ConflictError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await db.close();
  }
}

/** The first line of stdin, or a no-echo prompt on a terminal; undefined when nothing was given. */
export function readPassword(input: NodeJS.ReadStream = process.stdin): Promise<string | undefined> {
  return promptSecret("Password", input);
}
