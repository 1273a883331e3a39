import { readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import test from "ava";
import { TEST_PASSWORD, useTestPlatform } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";
import { getRun, holdWorkerSlots, metrics, RUN_SERVICES, waitForStatus } from "../runs/helpers.ts";
import { DropProxy } from "../web/drop-proxy.ts";
import { type Cli, cliFor } from "./helpers.ts";

/** `proxima login` and `proxima runs …` against a real server (API, users, runs, workers, tickets). */
const api = useTestPlatform(test, { ...RUN_SERVICES, SERVICES: "api,users,runs,workers,tickets" });

const TINY = [
  "--set",
  "numEnvs=4",
  "--set",
  "numSteps=32",
  "--set",
  "numMinibatches=2",
  "--set",
  "updateEpochs=2",
];

async function loggedIn(t: Parameters<typeof cliFor>[0]): Promise<{ cli: Cli; email: string }> {
  const me = await api().register();
  const cli = await cliFor(t);
  const r = await cli.run(["login", "--server", `${api().url}/`, "--email", me.email], {
    stdin: `${me.password}\n`,
  });
  t.is(r.code, 0, r.stderr);
  return { cli, email: me.email };
}

/**
 * Holds every worker slot, then creates a tiny CartPole run of `iterations` through the CLI: it waits
 * in queued until `release()` (once, whoever calls it first; the test's end releases it otherwise).
 */
async function queuedRun(
  t: Parameters<typeof cliFor>[0],
  cli: Cli,
  iterations: number,
): Promise<{ id: string; release(): Promise<void> }> {
  const slots = await holdWorkerSlots(api());
  let released: Promise<void> | undefined;
  const release = () => {
    released ??= slots.release();
    return released;
  };
  t.teardown(release);
  const created = await cli.run([
    "runs",
    "create",
    "--env",
    "CartPole-v1",
    "--total-steps",
    String(128 * iterations),
    ...TINY,
  ]);
  const id = created.stdout.trim();
  t.regex(id, /^[0-9a-f-]{36}$/, created.stderr);
  return { id, release };
}

function credentialsFile(cli: Cli): string {
  return path.join(cli.configHome, "proxima", "credentials.json");
}

test("login stores the session in the config dir, readable by the user only", async (t) => {
  const { cli, email } = await loggedIn(t);
  const file = credentialsFile(cli);
  t.is((await stat(file)).mode & 0o777, 0o600);
  t.is((await stat(path.dirname(file))).mode & 0o777, 0o700);
  const stored = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  t.is(stored["server"], api().url);
  t.is(stored["email"], email);
  t.is(typeof stored["refreshToken"], "string");
});

test("a wrong password prints the server's detail and exits non-zero, storing nothing", async (t) => {
  const me = await api().register();
  const cli = await cliFor(t);
  const r = await cli.run(["login", "--server", api().url, "--email", me.email], {
    stdin: "wrong password\n",
  });
  t.is(r.code, 1);
  t.regex(r.stderr, /^proxima login: .*(email or password|credentials)/im);
  await t.throwsAsync(stat(credentialsFile(cli)));
});

test("commands before login say how to log in", async (t) => {
  const cli = await cliFor(t);
  const r = await cli.run(["runs", "list"]);
  t.is(r.code, 1);
  t.regex(r.stderr, /not logged in: run `proxima login --server URL`/);
});

test("runs create, list and show a run; watch streams its iterations until it completes", async (t) => {
  const { cli } = await loggedIn(t);
  const created = await cli.run([
    "runs",
    "create",
    "--env",
    "CartPole-v1",
    "--total-steps",
    "1280",
    "--seed",
    "5",
    ...TINY,
  ]);
  t.is(created.code, 0, created.stderr);
  const id = created.stdout.trim();
  t.regex(id, /^[0-9a-f-]{36}$/);

  const listed = await cli.run(["runs", "list"]);
  t.is(listed.code, 0, listed.stderr);
  t.regex(listed.stdout, /^ID\s+NAME\s+STATUS\s+ENV/);
  t.true(listed.stdout.includes(id));

  const watched = await cli.run(["runs", "watch", id]);
  t.is(watched.code, 0, watched.stderr);
  const iterations = [...watched.stdout.matchAll(/^iter (\d+) /gm)].map((m) => Number(m[1]));
  t.true(iterations.length > 0, watched.stdout);
  t.is(iterations.at(-1), 10, "the last iteration is printed");
  for (let i = 1; i < iterations.length; i++) t.true(iterations[i]! > iterations[i - 1]!);
  t.regex(watched.stdout, /\[#+-*\] \d+%/, "a progress bar");
  t.regex(
    watched.stdout,
    /status: completed, evaluation \d+\.\d ± \d+\.\d over 10 episodes \(deterministic policy\)\s*$/,
    "the last line gives the final policy's evaluation",
  );

  const shown = await cli.run(["runs", "show", id, "--json"]);
  t.is(shown.code, 0, shown.stderr);
  const run = JSON.parse(shown.stdout) as {
    status: string;
    seed: number;
    latest: { iteration: number };
    evaluation: { episodes: number; seed: number; returnMean: number };
  };
  t.like(run, { status: "completed", seed: 5, latest: { iteration: 10 } });
  t.like(run.evaluation, { episodes: 10, seed: 1_000_005 });
  const table = await cli.run(["runs", "show", id]);
  t.regex(table.stdout, new RegExp(`^evaluation +${run.evaluation.returnMean.toFixed(1)} ± `, "m"));
});

test("on a terminal, watch rewrites one line in place with a progress bar", async (t) => {
  const { cli } = await loggedIn(t);
  const created = await cli.run(["runs", "create", "--env", "CartPole-v1", "--total-steps", "2560", ...TINY]);
  const id = created.stdout.trim();
  const watched = await cli.run(["runs", "watch", id], { tty: true });
  t.is(watched.code, 0, watched.stdout);
  // "\r" then ESC [ K (erase to the end of the line): each update rewrites the line in place.
  const ERASE = "\r\u001b[K";
  const rewritten = watched.stdout.split(ERASE).slice(1);
  t.true(rewritten.length > 0, JSON.stringify(watched.stdout));
  t.regex(rewritten[0]!, /^iter \d+ {2}\[#*-*\] \d+%/);
  t.regex(rewritten.at(-1)!, /^iter 20 {2}\[#{24}\] 100%/);
  t.regex(watched.stdout, /status: completed/);
});

test("runs stop and resume change the run's status", async (t) => {
  const { cli } = await loggedIn(t);
  const created = await cli.run([
    "runs",
    "create",
    "--env",
    "CartPole-v1",
    "--total-steps",
    String(128 * 5000),
    ...TINY,
  ]);
  const id = created.stdout.trim();
  const stopped = await cli.run(["runs", "stop", id]);
  t.is(stopped.code, 0, stopped.stderr);
  t.regex(stopped.stdout, new RegExp(`^${id} (stopping|stopped)$`, "m"));
  const tokens = await api().login(
    JSON.parse(await readFile(credentialsFile(cli), "utf8")).email,
    TEST_PASSWORD,
  );
  await waitForStatus(api(), tokens.accessToken, id, ["stopped"]);
  const resumed = await cli.run(["runs", "resume", id]);
  t.is(resumed.code, 0, resumed.stderr);
  t.regex(resumed.stdout, new RegExp(`^${id} (queued|running)$`, "m"));
  await cli.run(["runs", "stop", id]);
  await waitForStatus(api(), tokens.accessToken, id, ["stopped"]);
});

test("server validation errors print the detail and each field problem, and exit non-zero", async (t) => {
  const { cli } = await loggedIn(t);
  const r = await cli.run([
    "runs",
    "create",
    "--env",
    "CartPole-v1",
    "--total-steps",
    "1280",
    "--set",
    "numEnvs=4",
    "--set",
    "numSteps=32",
    "--set",
    "numMinibatches=3",
  ]);
  t.is(r.code, 1);
  t.regex(r.stderr, /^proxima runs create: the run is invalid$/m);
  t.regex(r.stderr, /^ {2}hyperparameters\.numMinibatches: must divide numEnvs × numSteps = 128$/m);

  const missing = await cli.run(["runs", "show", "00000000-0000-4000-8000-000000000000"]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /run not found/);
});

test("every invalid field is printed, one line each, in plain language rather than the validator's words", async (t) => {
  const { cli } = await loggedIn(t);
  const r = await cli.run([
    "runs",
    "create",
    "--env",
    "CartPole-v1",
    "--total-steps",
    "1280",
    "--set",
    "learningRate=-1",
    "--set",
    "gamma=2",
  ]);
  t.is(r.code, 1);
  t.regex(r.stderr, /^ {2}hyperparameters\.learningRate: must be greater than 0$/m);
  t.regex(r.stderr, /^ {2}hyperparameters\.gamma: must be at most 1$/m);
  t.notRegex(r.stderr, /Too (small|big)|expected number/);
});

test("an expired access token is renewed with the stored refresh token, and the new pair is stored", async (t) => {
  const { cli } = await loggedIn(t);
  const file = credentialsFile(cli);
  const before = JSON.parse(await readFile(file, "utf8")) as { refreshToken: string; expiresAt: number };
  await writeFile(file, JSON.stringify({ ...before, expiresAt: Date.now() - 1000 }), { mode: 0o600 });
  const r = await cli.run(["runs", "list", "--json"]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout), []);
  const after = JSON.parse(await readFile(file, "utf8")) as { refreshToken: string; expiresAt: number };
  t.not(after.refreshToken, before.refreshToken);
  t.true(after.expiresAt > Date.now());
  t.is((await stat(file)).mode & 0o777, 0o600);
});

test.serial("watch survives a dropped connection and prints every iteration it missed, once", async (t) => {
  const proxy = new DropProxy(new URL(api().url));
  await proxy.start();
  t.teardown(() => proxy.close());
  const me = await api().register();
  const cli = await cliFor(t);
  await cli.run(["login", "--server", proxy.url, "--email", me.email], { stdin: `${me.password}\n` });
  const token = (await api().login(me.email, me.password)).accessToken;
  // The run waits in queued until the watch has started: however slowly the CLI starts, the run
  // cannot have ended before the connection is dropped.
  const { id, release } = await queuedRun(t, cli, 80);

  let dropped = false;
  const watching = cli.run(["runs", "watch", id], {
    onStderr(text) {
      if (text.includes("Watching")) void release();
    },
    onStdout(text) {
      if (!dropped && /^iter \d+ /m.test(text)) {
        dropped = true;
        proxy.drop();
        // The run finishes while the CLI is cut off; then the link comes back.
        void waitForStatus(api(), token, id, ["completed"], 120_000).then(() => proxy.release());
      }
    },
  });
  const watched = await watching;
  await release();
  t.is(watched.code, 0, watched.stderr);
  t.regex(watched.stdout, /connection lost; reconnecting/);
  const iterations = [...watched.stdout.matchAll(/^iter (\d+) /gm)].map((m) => Number(m[1]));
  const first = iterations[0]!;
  t.true(first < 80, "the watch started before the run ended");
  t.deepEqual(
    iterations,
    Array.from({ length: 80 - first + 1 }, (_, i) => first + i),
    "every iteration from the first seen to the last, once each",
  );
  t.is((await metrics(api(), token, id)).length, 80);
});

test.serial(
  "a queued run's show, list and watch say its place in the fair-share queue and why, until it starts",
  async (t) => {
    const { cli } = await loggedIn(t);
    const { id, release } = await queuedRun(t, cli, 2);
    const admin = (await api().loginAdmin()).accessToken;
    const placed = await waitFor(
      () => getRun(api(), admin, id),
      (r) => r.queue !== null,
      "the scheduler to place the run",
    );
    const reason = placed.queue!.reason;
    t.regex(reason, /^\d+(st|nd|rd|th) for 1 CPU runner; your share 0 of \d+ slots?; /);

    const shown = await cli.run(["runs", "show", id]);
    t.is(shown.code, 0, shown.stderr);
    t.true(
      shown.stdout.split("\n").some((l) => /^queue\s+/.test(l) && l.endsWith(reason)),
      shown.stdout,
    );
    const listed = await cli.run(["runs", "list"]);
    // ID, NAME (none: "-"), then STATUS with the place.
    t.regex(listed.stdout, new RegExp(`^${id}\\s+-\\s+queued #${placed.queue!.position}\\s`, "m"));

    const watched = await cli.run(["runs", "watch", id], {
      onStdout(text) {
        if (text.includes("queued: ")) void release();
      },
    });
    t.is(watched.code, 0, watched.stderr);
    t.true(watched.stdout.includes(`queued: ${reason}`), watched.stdout);
    t.regex(watched.stdout, /^iter 2 /m);
  },
);

test("logout revokes the session and removes the stored credentials", async (t) => {
  const { cli } = await loggedIn(t);
  const stored = JSON.parse(await readFile(credentialsFile(cli), "utf8")) as { refreshToken: string };
  const r = await cli.run(["logout"]);
  t.is(r.code, 0, r.stderr);
  await t.throwsAsync(stat(credentialsFile(cli)));
  const refresh = await api().request("POST", "/api/v1/auth/refresh", {
    body: { refreshToken: stored.refreshToken },
  });
  t.is(refresh.status, 401);
});

test("runs create --name --tag, list --tag, edit, and metrics --csv / --jsonl print the run's export", async (t) => {
  const { cli } = await loggedIn(t);
  const create = (name: string, tags: string[], steps: number) =>
    cli.run([
      "runs",
      "create",
      "--env",
      "CartPole-v1",
      "--total-steps",
      String(steps),
      "--name",
      name,
      ...tags.flatMap((tag) => ["--tag", tag]),
      ...TINY,
    ]);
  const tagged = (await create("tagged one", ["cli-test", "ppo"], 384)).stdout.trim();
  const other = (await create("other one", ["ppo"], 128)).stdout.trim();

  const byTag = await cli.run(["runs", "list", "--tag", "cli-test"]);
  t.is(byTag.code, 0, byTag.stderr);
  t.regex(byTag.stdout, /^ID\s+NAME\s+STATUS\s+ENV\s+PROGRESS\s+STEPS\s+TAGS\s+CREATED/);
  t.true(byTag.stdout.includes(tagged));
  t.false(byTag.stdout.includes(other));
  t.regex(byTag.stdout, /tagged one .* cli-test,ppo /);
  const both = await cli.run(["runs", "list", "--tag", "ppo", "--json"]);
  t.deepEqual(
    (JSON.parse(both.stdout) as { id: string }[]).map((r) => r.id),
    [other, tagged],
  );
  const badTag = await cli.run(["runs", "list", "--tag", "no spaces"]);
  t.is(badTag.code, 1);
  t.regex(badTag.stderr, /^ {2}query\.tag: must be 1 to 32 letters, digits or -_\.:\//m);

  const edited = await cli.run(["runs", "edit", other, "--name", "renamed", "--clear-tags", "--notes", "n"]);
  t.is(edited.code, 0, edited.stderr);
  t.is(edited.stdout, `${other} renamed []\n`);
  const shown = await cli.run(["runs", "show", other]);
  t.regex(shown.stdout, /^name +renamed$/m);
  t.regex(shown.stdout, /^notes +n$/m);

  const email = JSON.parse(await readFile(credentialsFile(cli), "utf8")).email as string;
  const token = (await api().login(email, TEST_PASSWORD)).accessToken;
  await waitForStatus(api(), token, tagged, ["completed"]);
  const points = await metrics(api(), token, tagged);
  const csv = await cli.run(["runs", "metrics", tagged, "--csv"]);
  t.is(csv.code, 0, csv.stderr);
  const served = await api().authedFetch(token, `/api/v1/runs/${tagged}/metrics.csv`);
  t.is(csv.stdout, await served.text(), "stdout is the API's CSV, byte for byte");
  const lines = csv.stdout.trimEnd().split("\r\n");
  t.is(lines.length, points.length + 1);
  t.true(lines[0]!.startsWith("iteration,global_step,wall_time,"));
  t.is(lines[3]!.split(",")[1], String(points[2]!.globalStep));

  const jsonl = await cli.run(["runs", "metrics", tagged, "--jsonl"]);
  t.is(jsonl.code, 0, jsonl.stderr);
  const rows = jsonl.stdout
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  t.deepEqual(
    rows.map((r) => [r["iteration"], r["global_step"], r["charts/SPS"]]),
    points.map((p) => [p.iteration, p.globalStep, p.metrics["charts/SPS"] ?? null]),
  );
  const both2 = await cli.run(["runs", "metrics", tagged, "--csv", "--jsonl"]);
  t.is(both2.code, 2);
});
