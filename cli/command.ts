import { type ParseArgsOptionDescriptor, parseArgs } from "node:util";

/**
 * The `proxima` commands' option tables: one table per command both parses its argv (node:util
 * parseArgs) and writes its `--help`, so that the help never lists an option the parser lacks or
 * misses one it has. Every command and subcommand takes `--help` / `-h`: the help goes to stdout
 * and the command exits 0 without doing anything else.
 */

/** One option: what parseArgs needs, and what `--help` says of it. */
export interface OptionSpec extends ParseArgsOptionDescriptor {
  description: string;
  /** The value's name in the help (string options), e.g. "ID"; default: the option's name in capitals. */
  value?: string;
}

export type OptionTable = Record<string, OptionSpec>;

export interface CommandSpec<O extends OptionTable> {
  /** The words that run it, e.g. "proxima runs create". */
  name: string;
  /** One line: what it does. */
  summary: string;
  /** Its positional arguments as the usage line shows them, e.g. "<id>"; absent: it takes none. */
  args?: string;
  options: O;
  /** Paragraphs after the options (where the password comes from, what is printed). */
  notes?: string;
}

const HELP_OPTION: OptionSpec = { type: "boolean", short: "h", description: "show this help and exit" };

type Parsed<O extends OptionTable> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: boolean }>
>;

function optionLabel(name: string, o: OptionSpec): string {
  const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}`;
  return o.type === "string" ? `${flag} ${o.value ?? name.toUpperCase().replaceAll("-", "_")}` : flag;
}

function optionText(o: OptionSpec): string {
  const extras: string[] = [];
  if (o.multiple) extras.push("repeatable");
  const shown = Array.isArray(o.default) ? o.default.join(", ") : o.default;
  if (o.type === "string" && shown !== undefined && shown !== "") extras.push(`default: ${shown}`);
  return extras.length > 0 ? `${o.description} (${extras.join("; ")})` : o.description;
}

/** The usage line of a command: its name, its positionals and "[options]". */
export function usageLine(spec: CommandSpec<OptionTable>): string {
  return [spec.name, spec.args, "[options]"].filter(Boolean).join(" ");
}

/** `--help`'s text: usage, summary, every option of the table (and -h), then the notes. */
export function helpText(spec: CommandSpec<OptionTable>): string {
  const rows = Object.entries({ ...spec.options, help: HELP_OPTION }).map(
    ([name, o]) => [optionLabel(name, o), optionText(o)] as const,
  );
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = [
    `usage: ${usageLine(spec)}`,
    "",
    spec.summary,
    "",
    "options:",
    ...rows.map(([label, text]) => `  ${label.padEnd(width)}  ${text}`),
  ];
  if (spec.notes) lines.push("", spec.notes.trimEnd());
  return `${lines.join("\n")}\n`;
}

/** Whether argv asks for help (before a `--`, which ends the options). */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === "--help" || a === "-h");
}

/**
 * Parses argv with the command's table (strict: an unknown option or a missing value throws
 * parseArgs' own error). Asked for help, it prints it on stdout and returns null: the caller returns 0.
 */
export function parseCommand<O extends OptionTable>(
  spec: CommandSpec<O>,
  argv: readonly string[],
): Parsed<O> | null {
  if (wantsHelp(argv)) {
    process.stdout.write(helpText(spec));
    return null;
  }
  return parseArgs({
    args: [...argv],
    options: spec.options,
    strict: true,
    allowPositionals: spec.args !== undefined,
  }) as Parsed<O>;
}

export interface Subcommand {
  spec: CommandSpec<OptionTable>;
  run(argv: string[]): Promise<number>;
}

/** `proxima runs`, `proxima sweeps`, `proxima users`: commands of their own under one word. */
export interface CommandGroup {
  /** e.g. "proxima runs". */
  name: string;
  summary: string;
  subcommands: Record<string, Subcommand>;
}

/** A mistake in the command line itself (exit 2, with the usage), as opposed to a failure of the command. */
export class UsageError extends Error {}

function isUsageError(err: unknown): err is Error {
  return err instanceof UsageError || Boolean((err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS"));
}

/** `proxima runs --help` and friends: each subcommand's usage line and summary. */
export function groupHelp(group: CommandGroup): string {
  const rows = Object.values(group.subcommands).map((s) => [usageLine(s.spec), s.spec.summary] as const);
  return [
    `usage: ${group.name} <command> [options]`,
    "",
    group.summary,
    "",
    "commands:",
    ...rows.map(([usage, text]) => `  ${usage}\n      ${text}`),
    "",
    `${group.name} <command> --help describes a command's options.`,
    "",
  ].join("\n");
}

/**
 * Runs the subcommand argv names: the group's help (exit 0), an unknown name (exit 2), a mistake in
 * the command line (exit 2, with the subcommand's usage); any other failure goes to `onError`
 * (a remote command's problem+json, say), or up to the dispatcher.
 */
export async function runGroup(
  group: CommandGroup,
  argv: string[],
  onError?: (subcommand: string, err: unknown) => number,
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--help" || name === "-h") {
    process.stdout.write(groupHelp(group));
    return 0;
  }
  const sub =
    name !== undefined && Object.hasOwn(group.subcommands, name) ? group.subcommands[name] : undefined;
  if (name === undefined || !sub) {
    const word = group.name.split(" ").at(-1);
    process.stderr.write(`${name ? `unknown ${word} command "${name}"\n` : ""}${groupHelp(group)}`);
    return 2;
  }
  try {
    return await sub.run(rest);
  } catch (err) {
    if (isUsageError(err)) {
      process.stderr.write(
        `${group.name}: ${err.message}\nusage: ${usageLine(sub.spec)} (${sub.spec.name} --help describes it)\n`,
      );
      return 2;
    }
    if (onError) return onError(name, err);
    throw err;
  }
}

/** The one id (of a run, a sweep) a command takes as its argument; null when it printed its help. */
export function oneId(spec: CommandSpec<OptionTable>, args: string[], what: string): string | null {
  const parsed = parseCommand(spec, args);
  if (!parsed) return null;
  if (parsed.positionals.length !== 1) throw new UsageError(`expected one ${what} id`);
  return parsed.positionals[0]!;
}
