import { parseArgs } from "node:util";
import { loadConfig } from "../config.ts";
import { openDatabase } from "../db/index.ts";
import { ConflictError, ValidationFailedError } from "../lib/errors.ts";
import { createUser } from "../services/users/accounts.ts";
import { EmailSchema, NameSchema, RoleSchema } from "../services/users/schemas.ts";
import { promptSecret } from "./prompt.ts";

/**
 * `proxima users create --email E [--role learner|researcher|admin] [--name N]`: creates an account
 * directly in the database, with the same rules as registration. The password is read from stdin —
 * one line, so that `printf '%s\n' "$PW" | proxima users create ...` works in scripts — or, on a
 * terminal, typed at a prompt without echo. Never from argv: it would be visible in `ps` and history.
 */
const USAGE = `usage: proxima users create --email <email> [--role learner|researcher|admin] [--name <name>]
The password is read from stdin (one line), or prompted for without echo on a terminal.
`;

export async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== "create") {
    process.stderr.write(USAGE);
    return command === "--help" || command === "-h" ? 0 : 2;
  }
  let values: { email?: string; role?: string; name?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        email: { type: "string" },
        role: { type: "string", default: "learner" },
        name: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
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

  const db = await openDatabase(loadConfig(), {
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
