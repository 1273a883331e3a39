import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { isRunStatus, isTerminal, RUN_STATUSES } from "../../contracts/run-status.ts";
import type { PublicMetricPoint, PublicRun } from "../../contracts/runs.ts";
import { presetFor, presetsFor } from "../../rl/ppo/hyperparameters.ts";
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
 * `proxima runs create|list|show|edit|metrics|watch|stop|resume`: training runs on a Proxima server,
 * through its public API (the session of `proxima login`).
 */
/** The API's own shapes (contracts/runs.ts), never a copy that could drift. */
type Run = PublicRun;
type MetricPoint = PublicMetricPoint;

/** Statuses a run's lifecycle ends in (a resume starts a new one). */
const TERMINAL: ReadonlySet<string> = new Set(RUN_STATUSES.filter(isTerminal));

const ID = "<id>";

const CREATE = {
  name: "proxima runs create",
  summary: "Launches a PPO run on the server and prints its id.",
  options: {
    env: { type: "string", value: "ID", description: "the environment (see `proxima envs`), or custom:<id>" },
    preset: { type: "string", value: "cleanrl|zoo", description: "hyperparameter preset" },
    "total-steps": {
      type: "string",
      value: "N",
      description: "env steps to train for; default: the preset's",
    },
    seed: { type: "string", value: "N", description: "the run's seed" },
    runners: { type: "string", value: "N", description: "env runners (workers' slots) the run uses" },
    "envs-per-runner": { type: "string", value: "N", description: "envs each runner steps" },
    gpu: { type: "boolean", description: "ask for a GPU worker" },
    set: {
      type: "string",
      multiple: true,
      value: "NAME=VALUE",
      description: "one hyperparameter (the value is JSON when it parses)",
    },
    name: { type: "string", value: "TEXT", description: "a name for people" },
    tag: { type: "string", multiple: true, value: "TAG", description: "a tag to find the run by" },
    notes: { type: "string", value: "TEXT", description: "free text" },
    watch: { type: "boolean", description: "follow the run's metrics until it ends" },
    json: { type: "boolean", description: "print the created run as JSON" },
  },
} satisfies CommandSpec<OptionTable>;

const LIST = {
  name: "proxima runs list",
  summary: "Lists your runs (an admin's: all), newest first.",
  options: {
    status: {
      type: "string",
      value: "STATUS",
      description: `only runs in this status (${RUN_STATUSES.join(", ")})`,
    },
    tag: { type: "string", value: "TAG", description: "only runs with this tag" },
    search: { type: "string", value: "TEXT", description: "only runs whose name contains TEXT (any case)" },
    trials: { type: "boolean", description: "list sweeps' trials too (left out by default)" },
    limit: { type: "string", value: "N", description: "at most N runs (default: 50)" },
    json: { type: "boolean", description: "print the runs as JSON" },
  },
} satisfies CommandSpec<OptionTable>;

const EDIT = {
  name: "proxima runs edit",
  summary: "Renames a run, sets its tags or its notes; what is not given is kept.",
  args: ID,
  options: {
    name: { type: "string", value: "TEXT", description: "the new name" },
    tag: {
      type: "string",
      multiple: true,
      value: "TAG",
      description: "the run's tags: all of them, replacing the stored ones",
    },
    "clear-tags": { type: "boolean", description: "remove every tag" },
    notes: { type: "string", value: "TEXT", description: "the new notes (an empty string clears them)" },
    json: { type: "boolean", description: "print the run as JSON" },
  },
} satisfies CommandSpec<OptionTable>;

const METRICS = {
  name: "proxima runs metrics",
  summary: "Prints a run's whole metric history to stdout, as CSV (the default) or JSON Lines.",
  args: ID,
  options: {
    csv: { type: "boolean", description: "CSV: iteration, global_step, wall_time, then every metric key" },
    jsonl: {
      type: "boolean",
      description: "JSON Lines: one object per iteration, the CSV's columns by name",
    },
  },
  notes: "Streamed from the server as it reads the run's points: `> run.csv` for a file.",
} satisfies CommandSpec<OptionTable>;

const SHOW = {
  name: "proxima runs show",
  summary: "Shows one run: status, progress, resources, evaluation and its latest metrics.",
  args: ID,
  options: { json: { type: "boolean", description: "print the run and its latest metrics as JSON" } },
} satisfies CommandSpec<OptionTable>;

const WATCH = {
  name: "proxima runs watch",
  summary: "Follows a run's metrics live until it ends (exit 1 if it failed).",
  args: ID,
  options: {},
} satisfies CommandSpec<OptionTable>;

const STOP = {
  name: "proxima runs stop",
  summary: "Stops a run: at once when queued, within one iteration when running.",
  args: ID,
  options: {},
} satisfies CommandSpec<OptionTable>;

const RESUME = {
  name: "proxima runs resume",
  summary: "Resumes a stopped (or failed) run from its last checkpoint.",
  args: ID,
  options: {},
} satisfies CommandSpec<OptionTable>;

export const SUBCOMMANDS: Record<string, Subcommand> = {
  create: { spec: CREATE, run: create },
  list: { spec: LIST, run: list },
  show: { spec: SHOW, run: show },
  edit: { spec: EDIT, run: edit },
  metrics: { spec: METRICS, run: exportMetrics },
  watch: { spec: WATCH, run: watch },
  stop: { spec: STOP, run: (args) => transition("stop", args) },
  resume: { spec: RESUME, run: (args) => transition("resume", args) },
};

export const RUNS: CommandGroup = {
  name: "proxima runs",
  summary: "Training runs on a Proxima server (after `proxima login`).",
  subcommands: SUBCOMMANDS,
};

export function run(argv: string[]): Promise<number> {
  return runGroup(RUNS, argv, (sub, err) => reportError(`runs ${sub}`, err));
}

/** `name=value`: the value as JSON when it parses (numbers, booleans, null, arrays), else a string. */
function parseSetting(setting: string): [string, unknown] {
  const eq = setting.indexOf("=");
  if (eq <= 0) throw new UsageError(`--set takes name=value, got "${setting}"`);
  const name = setting.slice(0, eq).trim();
  const raw = setting.slice(eq + 1).trim();
  try {
    return [name, JSON.parse(raw)];
  } catch {
    return [name, raw];
  }
}

function integer(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw.trim())) throw new UsageError(`${flag} must be a whole number, got "${raw}"`);
  return Number(raw);
}

async function create(args: string[]): Promise<number> {
  const parsed = parseCommand(CREATE, args);
  if (!parsed) return 0;
  const { values } = parsed;
  if (!values.env) throw new UsageError("--env is required");
  let totalSteps = integer("--total-steps", values["total-steps"]);
  if (totalSteps === undefined) {
    // The preset's own length, as `proxima train` does; the server validates everything else.
    const preset = (values.preset ?? "cleanrl") as "cleanrl" | "zoo";
    if (!presetsFor(values.env).includes(preset)) {
      throw new UsageError(`--total-steps is required (no ${preset} preset known here for ${values.env})`);
    }
    totalSteps = presetFor(values.env, preset).totalTimesteps;
  }
  const resources: Record<string, unknown> = {};
  const runners = integer("--runners", values.runners);
  const envsPerRunner = integer("--envs-per-runner", values["envs-per-runner"]);
  if (runners !== undefined) resources["runners"] = runners;
  if (envsPerRunner !== undefined) resources["envsPerRunner"] = envsPerRunner;
  if (values.gpu) resources["gpu"] = true;
  const body: Record<string, unknown> = {
    env: values.env,
    totalSteps,
    hyperparameters: Object.fromEntries((values.set ?? []).map(parseSetting)),
  };
  if (values.preset) body["preset"] = values.preset;
  if (values.name !== undefined) body["name"] = values.name;
  if (values.tag) body["tags"] = values.tag;
  if (values.notes !== undefined) body["notes"] = values.notes;
  const seed = integer("--seed", values.seed);
  if (seed !== undefined) body["seed"] = seed;
  if (Object.keys(resources).length > 0) body["resources"] = resources;

  const client = await RemoteClient.fromStore();
  const created = await client.post<Run>("/api/v1/runs", body);
  if (values.json) process.stdout.write(`${JSON.stringify(created)}\n`);
  else process.stdout.write(`${created.id}\n`);
  if (!values.json)
    process.stderr.write(`Run ${created.id} ${created.status}: ${client.server}/runs/${created.id}\n`);
  return values.watch ? follow(client, created.id) : 0;
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

async function list(args: string[]): Promise<number> {
  const parsed = parseCommand(LIST, args);
  if (!parsed) return 0;
  const { values } = parsed;
  const query = new URLSearchParams({ limit: String(integer("--limit", values.limit) ?? 50) });
  if (values.status) query.set("status", values.status);
  if (values.tag) query.set("tag", values.tag);
  if (values.search) query.set("q", values.search);
  if (values.trials) query.set("trials", "include");
  const client = await RemoteClient.fromStore();
  const page = await client.get<{ items: Run[] }>(`/api/v1/runs?${query}`);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(page.items)}\n`);
    return 0;
  }
  if (page.items.length === 0) {
    process.stderr.write("No runs.\n");
    return 0;
  }
  const rows = [
    ["ID", "NAME", "STATUS", "ENV", "PROGRESS", "STEPS", "TAGS", "CREATED"],
    ...page.items.map((r) => [
      r.id,
      r.name ?? "-",
      r.queue ? `${r.status} #${r.queue.position}` : r.status,
      r.env,
      `${Math.floor((100 * r.globalStep) / Math.max(1, r.totalSteps))}%`,
      `${r.globalStep}/${r.totalSteps}`,
      r.tags.join(",") || "-",
      r.createdAt,
    ]),
  ];
  process.stdout.write(`${pad(rows)}\n`);
  return 0;
}

async function lastPoint(client: RemoteClient, run: Run): Promise<MetricPoint | undefined> {
  if (run.iteration === 0) return undefined;
  const page = await client.get<{ points: MetricPoint[] }>(
    `/api/v1/runs/${run.id}/metrics?fromIteration=${run.iteration}`,
  );
  return page.points.at(-1);
}

function describeEvaluation(e: NonNullable<Run["evaluation"]>): string {
  return `${e.returnMean.toFixed(1)} ± ${e.returnStd.toFixed(1)} over ${e.episodes} episodes (deterministic policy)`;
}

/** The last line of a watch: the run's end, with its failure or its evaluation. */
function ending(r: Run): string {
  if (r.failureReason) return `status: ${r.status} (${r.failureReason})`;
  if (r.evaluation) return `status: ${r.status}, evaluation ${describeEvaluation(r.evaluation)}`;
  return `status: ${r.status}`;
}

async function show(args: string[]): Promise<number> {
  const parsed = parseCommand(SHOW, args);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError("expected one run id");
  const client = await RemoteClient.fromStore();
  const r = await client.get<Run>(`/api/v1/runs/${encodeURIComponent(positionals[0]!)}`);
  const point = await lastPoint(client, r);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...r, latest: point ?? null })}\n`);
    return 0;
  }
  const rows = [
    ["id", r.id],
    ["name", r.name ?? "-"],
    ["tags", r.tags.join(", ") || "-"],
    ["status", r.status],
    ...(r.queue ? [["queue", r.queue.reason]] : []),
    ["env", r.env],
    ["preset", r.preset ?? "-"],
    ["seed", String(r.seed)],
    ["progress", `${r.globalStep}/${r.totalSteps} steps, iteration ${r.iteration}`],
    [
      "resources",
      `${r.resources.runners} runner(s) × ${r.resources.envsPerRunner} envs${r.resources.gpu ? ", GPU" : ""}`,
    ],
    ["created", r.createdAt],
    ["started", r.startedAt ?? "-"],
    ["finished", r.finishedAt ?? "-"],
  ];
  if (r.sweep) rows.push(["sweep", `${r.sweep.id} (trial #${r.sweep.trialIndex})`]);
  if (r.notes) rows.push(["notes", r.notes.replaceAll("\n", " ")]);
  if (r.evaluation) rows.push(["evaluation", describeEvaluation(r.evaluation)]);
  if (r.failureReason) rows.push(["failure", r.failureReason]);
  for (const [k, v] of Object.entries(point?.metrics ?? {})) {
    if (!k.startsWith("time/")) rows.push([k, compact(v)]);
  }
  process.stdout.write(`${pad(rows)}\n`);
  return 0;
}

async function edit(args: string[]): Promise<number> {
  const parsed = parseCommand(EDIT, args);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError("expected one run id");
  if (values.tag && values["clear-tags"]) throw new UsageError("--tag and --clear-tags exclude each other");
  const body: Record<string, unknown> = {};
  if (values.name !== undefined) body["name"] = values.name;
  if (values.tag) body["tags"] = values.tag;
  if (values["clear-tags"]) body["tags"] = [];
  if (values.notes !== undefined) body["notes"] = values.notes === "" ? null : values.notes;
  if (Object.keys(body).length === 0) throw new UsageError("give --name, --tag, --clear-tags or --notes");
  const client = await RemoteClient.fromStore();
  const r = await client.request<Run>("PATCH", `/api/v1/runs/${encodeURIComponent(positionals[0]!)}`, body);
  if (values.json) process.stdout.write(`${JSON.stringify(r)}\n`);
  else process.stdout.write(`${r.id} ${r.name ?? "-"} [${r.tags.join(", ")}]\n`);
  return 0;
}

/** The server's export, copied to stdout as it arrives (a reader that stops early, `| head`, is fine). */
async function exportMetrics(args: string[]): Promise<number> {
  const parsed = parseCommand(METRICS, args);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError("expected one run id");
  if (values.csv && values.jsonl) throw new UsageError("--csv and --jsonl exclude each other");
  const ext = values.jsonl ? "jsonl" : "csv";
  const client = await RemoteClient.fromStore();
  const response = await client.raw(
    "GET",
    `/api/v1/runs/${encodeURIComponent(positionals[0]!)}/metrics.${ext}`,
  );
  if (!response.body) return 0;
  try {
    await pipeline(Readable.fromWeb(response.body), process.stdout);
  } catch (err) {
    if ((err as { code?: string }).code !== "EPIPE") throw err;
  }
  return 0;
}

async function transition(what: "stop" | "resume", args: string[]): Promise<number> {
  const id = oneId(what === "stop" ? STOP : RESUME, args, "run");
  if (id === null) return 0;
  const client = await RemoteClient.fromStore();
  const r = await client.post<Run>(`/api/v1/runs/${encodeURIComponent(id)}/${what}`);
  process.stdout.write(`${r.id} ${r.status}\n`);
  return 0;
}

async function watch(args: string[]): Promise<number> {
  const id = oneId(WATCH, args, "run");
  if (id === null) return 0;
  const client = await RemoteClient.fromStore();
  return follow(client, id);
}

/**
 * Streams a run's metrics until it ends: on a terminal one line rewritten in place with a progress
 * bar; otherwise (a pipe, a log) one line per iteration. Exit code 0 when it completed or was
 * stopped, 1 when it failed.
 */
async function follow(client: RemoteClient, id: string): Promise<number> {
  let r = await client.get<Run>(`/api/v1/runs/${encodeURIComponent(id)}`);
  const tty = process.stdout.isTTY === true;
  process.stderr.write(`Watching ${r.env} run ${r.id} (${r.status}); Ctrl-C to stop watching.\n`);
  let last = 0;
  let live = false;

  const line = (p: MetricPoint): string => {
    const m = p.metrics;
    const fraction = p.globalStep / Math.max(1, r.totalSteps);
    return [
      `iter ${p.iteration}`,
      `${bar(fraction)} ${Math.floor(fraction * 100)}%`,
      `step ${p.globalStep}/${r.totalSteps}`,
      `return ${compact(m["charts/episodic_return"])}`,
      `SPS ${compact(m["charts/SPS"])}`,
      `kl ${compact(m["losses/approx_kl"])}`,
      `entropy ${compact(m["losses/entropy"])}`,
    ].join("  ");
  };
  const print = (p: MetricPoint) => {
    if (p.iteration <= last) return;
    last = p.iteration;
    if (tty) {
      process.stdout.write(`\r\x1b[K${line(p)}`);
      live = true;
    } else process.stdout.write(`${line(p)}\n`);
  };
  const printFrom = async (fromIteration: number) => {
    const page = await client.get<{ points: MetricPoint[] }>(
      `/api/v1/runs/${id}/metrics?fromIteration=${fromIteration}`,
    );
    for (const p of page.points) print(p);
  };
  const say = (text: string) => {
    if (tty && live) process.stdout.write("\n");
    live = false;
    process.stdout.write(`${text}\n`);
  };

  if (TERMINAL.has(r.status)) {
    const point = await lastPoint(client, r);
    if (point) print(point);
    say(ending(r));
    return r.status === "failed" ? 1 : 0;
  }
  // While it waits for slots: its place in the queue and why, again whenever the scheduler's words change.
  let queueShown: string | null = null;
  const sayQueue = (run: Run) => {
    const reason = run.status === "queued" ? (run.queue?.reason ?? null) : null;
    if (reason !== null && reason !== queueShown) say(`queued: ${reason}`);
    queueShown = reason;
  };
  sayQueue(r);

  await followLive(client, {
    topic: { runId: id },
    async onSubscribed(reconnected) {
      // The points produced while disconnected, then the live ones.
      if (reconnected) await printFrom(last + 1);
    },
    onDisconnect() {
      say("connection lost; reconnecting…");
    },
    // Every 5 s: the run as stored. Iterations (or the end) that no live frame brought are fetched.
    tick: {
      everyMs: 5000,
      async run(done) {
        const stored = await client.get<Run>(`/api/v1/runs/${encodeURIComponent(id)}`);
        sayQueue(stored);
        if (stored.iteration > last) await printFrom(last + 1);
        if (TERMINAL.has(stored.status)) {
          r = stored;
          done();
        }
      },
    },
    async onFrame(frame, done) {
      if (frame.type === "metrics") {
        const point = frame as unknown as MetricPoint;
        // A hole before this point (broadcasts this API node missed): the history fills it first.
        if (point.iteration > last + 1) await printFrom(last + 1);
        print(point);
      } else if (frame.type === "status" || frame.type === "subscribed") {
        const status = String(frame["status"]);
        const changed = status !== r.status;
        if (isRunStatus(status)) r = { ...r, status };
        if (TERMINAL.has(status)) done();
        else if (changed) say(`status: ${status}`);
      }
    },
  });
  if (process.exitCode === 130) {
    say("stopped watching (the run goes on)");
    return 130;
  }
  if (TERMINAL.has(r.status)) {
    await printFrom(last + 1);
    r = await client.get<Run>(`/api/v1/runs/${encodeURIComponent(id)}`);
    say(ending(r));
  }
  return r.status === "failed" ? 1 : 0;
}
