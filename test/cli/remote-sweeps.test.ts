import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import test, { type ExecutionContext } from "ava";
import { stringify } from "yaml";
import { TEST_ADMIN, useTestPlatform } from "../helpers/platform.ts";
import { holdWorkerSlots } from "../runs/helpers.ts";
import { SWEEP_SERVICES, tinySweep } from "../sweeps/helpers.ts";
import { type Cli, cliFor } from "./helpers.ts";

/** `proxima sweeps …` against a real server hosting the sweeps service. */
const api = useTestPlatform(test, { ...SWEEP_SERVICES, SERVICES: `${SWEEP_SERVICES.SERVICES},tickets` });

async function loggedIn(t: ExecutionContext, role: "learner" | "researcher"): Promise<Cli> {
  const me = await api().register();
  if (role !== "learner") {
    const admin = await api().login(TEST_ADMIN.email, TEST_ADMIN.password);
    await api().request("PATCH", `/api/v1/users/${me.user.id}`, { token: admin.accessToken, body: { role } });
  }
  const cli = await cliFor(t);
  const r = await cli.run(["login", "--server", api().url, "--email", me.email], {
    stdin: `${me.password}\n`,
  });
  t.is(r.code, 0, r.stderr);
  return cli;
}

async function yamlFile(t: ExecutionContext, definition: unknown): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "proxima-sweep-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, "sweep.yaml");
  await writeFile(file, stringify(definition));
  return file;
}

test.serial(
  "sweeps create -f sweep.yaml launches the sweep; watch follows it to the end; list shows it",
  async (t) => {
    const cli = await loggedIn(t, "researcher");
    // The trials wait in queued until the watch shows them: however slowly the CLI starts, it sees
    // them run.
    const slots = await holdWorkerSlots(api());
    let released: Promise<void> | undefined;
    t.teardown(() => released ?? slots.release());
    const created = await cli.run(["sweeps", "create", "-f", await yamlFile(t, tinySweep(20))]);
    t.is(created.code, 0, created.stderr);
    const id = created.stdout.trim();
    t.regex(id, /^[0-9a-f-]{36}$/);

    const watched = await cli.run(["sweeps", "watch", id], {
      timeoutMs: 120_000,
      onStdout(text) {
        // The first trial line: the watch follows the sweep live from here.
        if (!released && /^trial #/m.test(text)) released = slots.release();
      },
    });
    await released;
    t.is(watched.code, 0, watched.stderr);
    t.regex(watched.stdout, /tiny grid \(CartPole-v1, grid\): completed; 4 completed; best #\d+ /);
    t.regex(
      watched.stdout,
      /^#\s+STATUS\s+(learningRate\s+clipCoef|clipCoef\s+learningRate)\s+STEPS\s+LAST\s+FINAL\s+EVAL$/m,
    );
    t.is([...watched.stdout.matchAll(/^\d+\s+completed\s+/gm)].length, 4);
    t.is(
      [...watched.stdout.matchAll(/^\d+\s+completed\s+.*\s\d+(\.\d+)?$/gm)].length,
      4,
      "an evaluation each",
    );
    // Live lines, one per trial change, as the trials progressed.
    t.regex(watched.stdout, /^trial #\d+ running \d+\/2560 steps/m);
    t.regex(watched.stdout, /^trial #\d+ completed 2560\/2560 steps/m);

    const listed = await cli.run(["sweeps", "list"]);
    t.is(listed.code, 0, listed.stderr);
    t.regex(listed.stdout, new RegExp(`^${id}\\s+tiny grid\\s+completed`, "m"));
    const shown = await cli.run(["sweeps", "show", id, "--json"]);
    t.is((JSON.parse(shown.stdout) as { trials: unknown[] }).trials.length, 4);
  },
);

test("an invalid sweep file prints the server's detail and the offending key, and exits non-zero", async (t) => {
  const cli = await loggedIn(t, "researcher");
  const r = await cli.run(["sweeps", "create", "-f", await yamlFile(t, tinySweep(2, { maxTrials: 3 }))]);
  t.is(r.code, 1);
  t.regex(r.stderr, /^proxima sweeps create: .+/m);
  t.regex(r.stderr, /^ {2}maxTrials: .+/m);

  const bad = path.join(path.dirname(await yamlFile(t, {})), "broken.yaml");
  await writeFile(bad, "name: [unclosed\n");
  const broken = await cli.run(["sweeps", "create", "-f", bad]);
  t.is(broken.code, 2);
  t.regex(broken.stderr, /is not valid YAML/);
});

test("a learner is told why they may not sweep", async (t) => {
  const cli = await loggedIn(t, "learner");
  const r = await cli.run(["sweeps", "create", "-f", await yamlFile(t, tinySweep(2))]);
  t.is(r.code, 1);
  t.regex(r.stderr, /^proxima sweeps create: .*researcher or admin/m);
});
