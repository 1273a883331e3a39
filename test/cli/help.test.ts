import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import { type CommandSpec, type OptionTable, parseCommand } from "../../cli/command.ts";
import { ENVS } from "../../cli/envs.ts";
import { EVAL } from "../../cli/eval.ts";
import { EXPORT } from "../../cli/export.ts";
import { MIGRATE } from "../../cli/migrate.ts";
import { LOGIN, LOGOUT } from "../../cli/remote/login.ts";
import { SUBCOMMANDS as RUNS } from "../../cli/remote/runs.ts";
import { SUBMIT } from "../../cli/remote/submit.ts";
import { SUBCOMMANDS as SWEEPS } from "../../cli/remote/sweeps.ts";
import { TRAIN } from "../../cli/train.ts";
import { SUBCOMMANDS as USERS } from "../../cli/users.ts";

/** `--help` on every command, written from the option table that parses it; and train's default checkpoint. */
const bin = fileURLToPath(new URL("../../bin/proxima.js", import.meta.url));

function proxima(args: string[], cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 120_000, cwd }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const SPECS: CommandSpec<OptionTable>[] = [
  TRAIN,
  EVAL,
  EXPORT,
  ENVS,
  MIGRATE,
  LOGIN,
  LOGOUT,
  SUBMIT,
  ...[RUNS, SWEEPS, USERS].flatMap((group) => Object.values(group).map((s) => s.spec)),
];

// One process at a time: a spawn per command, on a machine the suite shares.
for (const [i, spec] of SPECS.entries()) {
  test.serial(
    `${spec.name} ${i % 2 ? "-h" : "--help"}: exit 0, its usage, and every option of its table with a description`,
    async (t) => {
      const words = spec.name.split(" ").slice(1);
      const r = await proxima([...words, i % 2 ? "-h" : "--help"]);
      t.is(r.code, 0, r.stderr);
      t.is(r.stderr, "");
      t.true(
        r.stdout.startsWith(`usage: ${spec.name}${spec.args ? ` ${spec.args}` : ""} [options]\n`),
        r.stdout,
      );
      t.true(r.stdout.includes(spec.summary));
      for (const [name, option] of Object.entries(spec.options)) {
        const line = r.stdout.split("\n").find((l) => l.includes(`--${name}`));
        t.truthy(line, `--${name} is missing from\n${r.stdout}`);
        t.true(line!.includes(option.description), line);
        if (option.short) t.true(line!.includes(`-${option.short}, --${name}`), line);
      }
      t.regex(r.stdout, /-h, --help\s+show this help and exit/);
    },
  );
}

test.serial(
  "the groups' --help lists each subcommand with its usage; an unknown subcommand exits 2",
  async (t) => {
    for (const [group, table] of Object.entries({ runs: RUNS, sweeps: SWEEPS, users: USERS })) {
      const r = await proxima([group, "--help"]);
      t.is(r.code, 0, r.stderr);
      for (const [name, sub] of Object.entries(table)) {
        t.true(r.stdout.includes(`proxima ${group} ${name}`), `${group} ${name}`);
        t.true(r.stdout.includes(sub.spec.summary));
      }
      const bad = await proxima([group, "frobnicate"]);
      t.is(bad.code, 2);
      t.regex(bad.stderr, new RegExp(`unknown ${group} command "frobnicate"`));
    }
    const top = await proxima(["--help"]);
    t.is(top.code, 0);
    t.regex(top.stdout, /proxima <command> --help/);
  },
);

test("parseCommand parses with the same table it prints, and --help after `--` is an argument", (t) => {
  const spec = {
    name: "proxima demo",
    summary: "A demo.",
    args: "<file>",
    options: {
      count: { type: "string", default: "3", value: "N", description: "how many" },
      loud: { type: "boolean", short: "l", description: "shout" },
    },
  } satisfies CommandSpec<OptionTable>;
  const parsed = parseCommand(spec, ["-l", "x.txt", "--count", "5"]);
  t.deepEqual(parsed?.values, { loud: true, count: "5" });
  t.deepEqual(parsed?.positionals, ["x.txt"]);
  t.deepEqual(parseCommand(spec, ["--", "--help"])?.positionals, ["--help"]);
  t.throws(() => parseCommand(spec, ["--bogus"]), { code: "ERR_PARSE_ARGS_UNKNOWN_OPTION" });
});

test("a plain `proxima train` keeps its checkpoint under runs/<env>-<time>/, which `proxima eval` reads", async (t) => {
  const cwd = await mkdtemp(path.join(tmpdir(), "proxima-train-default-"));
  t.teardown(() => rm(cwd, { recursive: true, force: true }));
  const r = await proxima(
    ["train", "--env", "CartPole-v1", "--total-steps", "512", "--set", "numEnvs=4", "--set", "numSteps=64"],
    cwd,
  );
  t.is(r.code, 0, r.stderr);
  const [dir] = await readdir(path.join(cwd, "runs"));
  t.regex(dir ?? "", /^CartPole-v1-\d{8}-\d{6}$/);
  t.true(r.stdout.includes(`checkpoint in runs/${dir}`), r.stdout);
  const e = await proxima(["eval", "--checkpoint", `runs/${dir}`, "--episodes", "2", "--json"], cwd);
  t.is(e.code, 0, e.stderr);
  t.like(JSON.parse(e.stdout.trim().split("\n").at(-1)!), { env: "CartPole-v1", globalStep: 512 });
});
