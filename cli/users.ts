import { type Config, loadConfig } from "../config.ts";
import { QUOTA_LIMITS, type QuotaOverride } from "../contracts/quota-limits.ts";
import { QuotaOverrideSchema, type UserQuotas } from "../contracts/quotas.ts";
import { findRunningEmbeddedPostgres } from "../db/embedded.ts";
import { normalizeEmail, User } from "../db/entities/User.ts";
import { type Database, openDatabase } from "../db/index.ts";
import { ConflictError, NotFoundError, ValidationFailedError } from "../lib/errors.ts";
import { roleQuotas } from "../services/runs/quotas.ts";
import { createUser } from "../services/users/accounts.ts";
import { clearOverride, setOverride, userQuotas } from "../services/users/quotas.ts";
import { EmailSchema, NameSchema, RoleSchema } from "../services/users/schemas.ts";
import {
  type CommandGroup,
  type CommandSpec,
  type OptionSpec,
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

/** A limit's option takes a number (`true`/`false` for the GPU), or `role` for the role's limit again. */
const QUOTA_OPTIONS = Object.fromEntries(
  QUOTA_LIMITS.map((l) => [
    l.flag.slice(2),
    {
      type: "string",
      value: l.key === "gpu" ? "true|false|role" : "N|role",
      description: l.label.toLowerCase(),
    } satisfies OptionSpec,
  ]),
) as Record<string, OptionSpec>;

export const USERS_QUOTA = {
  name: "proxima users quota",
  summary: "Shows one account's quotas, or sets or clears the limits that override its role's.",
  args: "<email|id>",
  options: {
    ...QUOTA_OPTIONS,
    clear: { type: "boolean", description: "drop every override: the role's quota applies again" },
  },
  notes:
    "The limits given change; the others keep their override, or the role's limit. Each takes effect\n" +
    "at the account's next request on every node. The role's limits shown are this environment's\n" +
    "QUOTA_<ROLE>_<LIMIT> (the servers' own may differ); the database is found as for `users create`.",
} satisfies CommandSpec<OptionTable>;

export const SUBCOMMANDS: Record<string, Subcommand> = {
  create: { spec: USERS_CREATE, run: create },
  quota: { spec: USERS_QUOTA, run: quota },
};
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

  const db = await openUsersDatabase(loadConfig());
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

/**
 * DATABASE_URL's database, or the embedded one: the running server's when it runs (no restart
 * needed), else started for this command.
 */
async function openUsersDatabase(config: Config): Promise<Database> {
  const running = config.DATABASE_URL
    ? undefined
    : await findRunningEmbeddedPostgres(config.PROXIMA_DATA_DIR);
  return openDatabase(running ? { ...config, DATABASE_URL: running.url } : config, {
    // The running server has brought the schema up to date: it owns it.
    migrate: running === undefined,
    logger: {
      info() {},
      warn: (m) => process.stderr.write(`${m}\n`),
      error: (m) => process.stderr.write(`${m}\n`),
    },
  });
}

/** The options' changes to an override: a value to set, or undefined (`role`) to drop. */
function quotaChanges(values: Record<string, string | boolean | undefined>): Map<string, unknown> {
  const changes = new Map<string, unknown>();
  for (const l of QUOTA_LIMITS) {
    const raw = values[l.flag.slice(2)];
    if (typeof raw !== "string") continue;
    const text = raw.trim();
    if (text === "role") changes.set(l.key, undefined);
    else if (l.key === "gpu") changes.set(l.key, text === "true" ? true : text === "false" ? false : text);
    else changes.set(l.key, /^\d+$/.test(text) ? Number(text) : text);
  }
  return changes;
}

function quotaTable(q: UserQuotas): string {
  const show = (v: number | boolean | undefined) => (v === undefined ? "–" : String(v));
  const rows = [
    ["limit", `${q.role}'s`, "override", "effective"],
    ...QUOTA_LIMITS.map((l) => [
      l.flag.slice(2),
      show(q.roleQuota[l.key]),
      show(q.override[l.key]),
      show(q.effective[l.key]),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return `${rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")}\n`;
}

async function quota(argv: string[]): Promise<number> {
  const usage = `usage: ${usageLine(USERS_QUOTA)} (proxima users quota --help describes them)\n`;
  let values: Record<string, string | boolean | undefined>;
  let who: string | undefined;
  try {
    const parsed = parseCommand(USERS_QUOTA, argv);
    if (!parsed) return 0;
    values = parsed.values;
    if (parsed.positionals.length !== 1) throw new Error("name one account, by email or id");
    who = parsed.positionals[0];
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage}`);
    return 2;
  }
  const changes = quotaChanges(values);
  if (values["clear"] && changes.size > 0) {
    process.stderr.write(`--clear drops every override: give no limit with it\n${usage}`);
    return 2;
  }
  const config = loadConfig();
  const quotas = roleQuotas(config);
  const db = await openUsersDatabase(config);
  try {
    const em = db.orm.em.fork();
    const id = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(who!)
      ? who!
      : (await em.findOne(User, { email: normalizeEmail(who!) }))?.id;
    if (!id) {
      process.stderr.write(`no account ${who}\n`);
      return 1;
    }
    let q = await userQuotas(em, quotas, id);
    if (values["clear"]) q = await clearOverride(em, quotas, id);
    else if (changes.size > 0) {
      const next: Record<string, unknown> = { ...q.override };
      for (const [key, value] of changes) {
        if (value === undefined) delete next[key];
        else next[key] = value;
      }
      const checked = QuotaOverrideSchema.safeParse(next);
      if (!checked.success) {
        const flag = (key: PropertyKey) => QUOTA_LIMITS.find((l) => l.key === key)?.flag ?? String(key);
        for (const issue of checked.error.issues) {
          const message =
            issue.path[0] === "gpu" ? "must be true, false or role" : "must be a positive integer or role";
          process.stderr.write(`${flag(issue.path[0]!)} ${message}\n`);
        }
        return 2;
      }
      q = await setOverride(em, quotas, {
        userId: id,
        adminId: null,
        override: checked.data as QuotaOverride,
      });
    }
    process.stdout.write(quotaTable(q));
    return 0;
  } catch (err) {
    if (err instanceof NotFoundError) {
      process.stderr.write(`no account ${who}\n`);
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
