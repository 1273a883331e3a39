import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { formatParam, formatParams } from "../../contracts/sweep-format.ts";
import { ACTIVE_SWEEP_STATUSES, isSweepStatus } from "../../contracts/sweep-status.ts";
import type { PublicSweep, PublicTrial } from "../../contracts/sweeps.ts";
import {
  type CommandGroup,
  type CommandSpec,
  type OptionTable,
  oneId,
  parseCommand,
  runGroup,
  type Subcommand,
  UsageError,
} from "../command.ts";
import { RemoteClient, reportError } from "./client.ts";
import { bar, compact, followLive } from "./watch.ts";

/**
 * `proxima sweeps create -f sweep.yaml | list | show ID | watch ID | stop ID | resume ID`. The YAML
 * document is the API's sweep definition (the server validates it and names the offending key).
 * `watch` follows the sweep's trials live over the WebSocket until the sweep ends.
 */
/** The API's own shapes (contracts/sweeps.ts), never a copy that could drift. */
type Trial = PublicTrial;
type Sweep = PublicSweep & { trials?: Trial[] };

const ACTIVE: ReadonlySet<string> = new Set(ACTIVE_SWEEP_STATUSES);

const ID = "<id>";

const CREATE = {
  name: "proxima sweeps create",
  summary: "Launches a hyperparameter sweep from a YAML definition (the API's; the server names a bad key).",
  options: {
    file: { type: "string", short: "f", value: "SWEEP.yaml", description: "the sweep's definition" },
    watch: { type: "boolean", description: "follow the sweep's trials until it ends" },
    json: { type: "boolean", description: "print the created sweep as JSON" },
  },
} satisfies CommandSpec<OptionTable>;

const LIST = {
  name: "proxima sweeps list",
  summary: "Lists your sweeps (an admin's: all), newest first, with their trials' counts and best result.",
  options: {
    status: { type: "string", value: "STATUS", description: "only sweeps in this status" },
    json: { type: "boolean", description: "print the sweeps as JSON" },
  },
} satisfies CommandSpec<OptionTable>;

const SHOW = {
  name: "proxima sweeps show",
  summary: "Shows one sweep and the table of its trials.",
  args: ID,
  options: { json: { type: "boolean", description: "print the sweep and its trials as JSON" } },
} satisfies CommandSpec<OptionTable>;

const WATCH = {
  name: "proxima sweeps watch",
  summary: "Follows a sweep's trials live until it ends, then prints the trials table.",
  args: ID,
  options: {},
} satisfies CommandSpec<OptionTable>;

const STOP = {
  name: "proxima sweeps stop",
  summary: "Stops a sweep and every trial it is running.",
  args: ID,
  options: {},
} satisfies CommandSpec<OptionTable>;

const RESUME = {
  name: "proxima sweeps resume",
  summary: "Resumes a stopped sweep: its stopped trials continue from their checkpoints, the rest start.",
  args: ID,
  options: {},
} satisfies CommandSpec<OptionTable>;

async function transition(what: "stop" | "resume", args: string[]): Promise<number> {
  const id = oneId(what === "stop" ? STOP : RESUME, args, "sweep");
  if (id === null) return 0;
  const client = await RemoteClient.fromStore();
  const s = await client.post<Sweep>(`/api/v1/sweeps/${encodeURIComponent(id)}/${what}`);
  process.stdout.write(`${s.id} ${s.status}\n`);
  return 0;
}

export const SUBCOMMANDS: Record<string, Subcommand> = {
  create: { spec: CREATE, run: create },
  list: { spec: LIST, run: list },
  show: { spec: SHOW, run: show },
  watch: {
    spec: WATCH,
    run: async (args) => {
      const id = oneId(WATCH, args, "sweep");
      return id === null ? 0 : watch(id);
    },
  },
  stop: { spec: STOP, run: (args) => transition("stop", args) },
  resume: { spec: RESUME, run: (args) => transition("resume", args) },
};

export const SWEEPS: CommandGroup = {
  name: "proxima sweeps",
  summary: "Hyperparameter sweeps on a Proxima server (after `proxima login`).",
  subcommands: SUBCOMMANDS,
};

export function run(argv: string[]): Promise<number> {
  return runGroup(SWEEPS, argv, (sub, err) => reportError(`sweeps ${sub}`, err));
}

async function create(args: string[]): Promise<number> {
  const parsed = parseCommand(CREATE, args);
  if (!parsed) return 0;
  const { values } = parsed;
  if (!values.file) throw new UsageError("-f <sweep.yaml> is required");
  let text: string;
  try {
    text = await readFile(values.file, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read ${values.file}: ${(err as NodeJS.ErrnoException).code}`);
  }
  let definition: unknown;
  try {
    definition = parseYaml(text);
  } catch (err) {
    throw new UsageError(`${values.file} is not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  const client = await RemoteClient.fromStore();
  const sweep = await client.post<Sweep>("/api/v1/sweeps", definition);
  if (values.json) process.stdout.write(`${JSON.stringify(sweep)}\n`);
  else {
    process.stdout.write(`${sweep.id}\n`);
    process.stderr.write(`Sweep "${sweep.name}" ${sweep.status}: ${client.server}/sweeps/${sweep.id}\n`);
  }
  return values.watch ? watch(sweep.id, client) : 0;
}

function pad(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function counts(s: Sweep): string {
  return (
    Object.entries(s.trialCounts)
      .filter(([, n]) => n > 0)
      .map(([status, n]) => `${n} ${status}`)
      .join(", ") || "-"
  );
}

async function list(args: string[]): Promise<number> {
  const parsed = parseCommand(LIST, args);
  if (!parsed) return 0;
  const { values } = parsed;
  const query = new URLSearchParams({ limit: "100" });
  if (values.status) query.set("status", values.status);
  const client = await RemoteClient.fromStore();
  const page = await client.get<{ items: Sweep[] }>(`/api/v1/sweeps?${query}`);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(page.items)}\n`);
    return 0;
  }
  if (page.items.length === 0) {
    process.stderr.write("No sweeps.\n");
    return 0;
  }
  const rows = [
    ["ID", "NAME", "STATUS", "ENV", "METHOD", "TRIALS", "BEST"],
    ...page.items.map((s) => [s.id, s.name, s.status, s.env, s.method, counts(s), compact(s.best?.metric)]),
  ];
  process.stdout.write(`${pad(rows)}\n`);
  return 0;
}

function trialsTable(s: Sweep): string {
  const params = Object.keys((s.definition["searchSpace"] as Record<string, unknown> | undefined) ?? {});
  const rows = [
    ["#", "STATUS", ...params, "STEPS", "LAST", "FINAL", "EVAL"],
    ...(s.trials ?? []).map((t) => [
      String(t.index),
      t.pruned ? `pruned@${t.pruned.rung}` : t.status,
      ...params.map((p) => formatParam(t.params[p])),
      `${t.steps}/${t.totalSteps}`,
      compact(t.lastMetric),
      compact(t.finalMetric),
      compact(t.evaluationReturn),
    ]),
  ];
  return pad(rows);
}

function summary(s: Sweep): string {
  const best = s.best
    ? `best #${s.best.index} ${compact(s.best.metric)} (${formatParams(s.best.params)})`
    : "no result yet";
  return `${s.name} (${s.env}, ${s.method}): ${s.status}; ${counts(s)}; ${best}`;
}

async function show(args: string[]): Promise<number> {
  const parsed = parseCommand(SHOW, args);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError("expected one sweep id");
  const client = await RemoteClient.fromStore();
  const s = await client.get<Sweep>(`/api/v1/sweeps/${encodeURIComponent(positionals[0]!)}`);
  if (values.json) process.stdout.write(`${JSON.stringify(s)}\n`);
  else process.stdout.write(`${summary(s)}\n${trialsTable(s)}\n`);
  return 0;
}

/**
 * Follows a sweep over the WebSocket (`{type:"subscribe", sweepId}`) until it ends: one line per
 * trial change (on a terminal, one line rewritten in place with a progress bar of the env steps of
 * all trials), then the trials table. After a reconnect the hub sends every trial as it stands.
 */
async function watch(id: string, client?: RemoteClient): Promise<number> {
  client ??= await RemoteClient.fromStore();
  const c = client;
  const tty = process.stdout.isTTY === true;
  let s = await c.get<Sweep>(`/api/v1/sweeps/${encodeURIComponent(id)}`);
  process.stderr.write(`Watching sweep ${summary(s)}; Ctrl-C to stop watching.\n`);
  const shown = new Map<number, string>();
  let inPlace = false;

  const progress = () => {
    const trials = s.trials ?? [];
    const done = trials.reduce((n, t) => n + t.steps, 0);
    const total = trials.reduce((n, t) => n + t.totalSteps, 0);
    return `${bar(total > 0 ? done / total : 0)} ${done}/${total} steps`;
  };
  const trialLine = (t: Trial) =>
    `trial #${t.index} ${t.pruned ? `pruned@${t.pruned.rung}` : t.status} ${t.steps}/${t.totalSteps} steps ` +
    `last ${compact(t.lastMetric)} final ${compact(t.finalMetric)}`;
  const show = (t: Trial) => {
    const line = trialLine(t);
    if (shown.get(t.index) === line) return;
    shown.set(t.index, line);
    if (tty) {
      process.stdout.write(`\r\x1b[K${progress()}  ${line}`);
      inPlace = true;
    } else process.stdout.write(`${line}\n`);
  };
  const say = (text: string) => {
    if (inPlace) process.stdout.write("\n");
    inPlace = false;
    process.stdout.write(`${text}\n`);
  };

  if (ACTIVE.has(s.status)) {
    await followLive(c, {
      topic: { sweepId: id },
      async onSubscribed(reconnected) {
        if (reconnected) s = await c.get<Sweep>(`/api/v1/sweeps/${encodeURIComponent(id)}`);
      },
      onDisconnect() {
        say("connection lost; reconnecting…");
      },
      // Every 5 s, the sweep as stored: changes that no live frame brought (a just-restarted API node
      // misses broadcasts until the cluster knows it) are shown too.
      tick: {
        everyMs: 5000,
        async run(done) {
          s = await c.get<Sweep>(`/api/v1/sweeps/${encodeURIComponent(id)}`);
          for (const t of s.trials ?? []) show(t);
          if (!ACTIVE.has(s.status)) done();
        },
      },
      onFrame(frame, done) {
        if (frame.type === "trial") {
          const update = frame["trial"] as Partial<Trial> & { index: number };
          const trial = s.trials?.find((t) => t.index === update.index);
          if (trial) {
            Object.assign(trial, update);
            show(trial);
          }
        } else if (frame.type === "status" || frame.type === "subscribed") {
          const status = String(frame["status"]);
          if (isSweepStatus(status)) s = { ...s, status };
          if (!ACTIVE.has(status)) done();
        }
      },
    });
  }
  s = await c.get<Sweep>(`/api/v1/sweeps/${encodeURIComponent(id)}`);
  say(summary(s));
  process.stdout.write(`${trialsTable(s)}\n`);
  if (s.failureReason) process.stdout.write(`failure: ${s.failureReason}\n`);
  if (process.exitCode === 130) return 130;
  return s.status === "failed" ? 1 : 0;
}
