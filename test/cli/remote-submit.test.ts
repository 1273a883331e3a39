import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import test from "ava";
import { getExercise } from "../../exercises/index.ts";
import { SOLUTIONS } from "../exercises/solutions.ts";
import { useTestPlatform } from "../helpers/platform.ts";
import { cliFor } from "./helpers.ts";

/** `proxima submit EXERCISE FILE.js` against a real server with the submissions service. */
const api = useTestPlatform(test, { SERVICES: "api,users,tickets,submissions", SUBMISSIONS_POOL_SIZE: "1" });

async function codeFile(t: Parameters<typeof cliFor>[0], code: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "proxima-submit-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, "solution.js");
  await writeFile(file, code);
  return file;
}

test("submit prints every test's result: a wrong answer exits 1, a right one 0", async (t) => {
  const me = await api().register();
  const cli = await cliFor(t);
  const login = await cli.run(["login", "--server", api().url, "--email", me.email], {
    stdin: `${me.password}\n`,
  });
  t.is(login.code, 0, login.stderr);

  const wrong = await cli.run([
    "submit",
    "discounted-returns",
    await codeFile(t, "function discountedReturns(rewards, gamma) { return rewards.slice(); }"),
  ]);
  t.is(wrong.code, 1, wrong.stderr);
  t.regex(wrong.stdout, /^✗ example: three rewards of 1, gamma 0\.9: .+/m);
  t.regex(wrong.stdout, /^failed: \d+(\.\d+)?\/10$/m);

  const right = await cli.run([
    "submit",
    "discounted-returns",
    await codeFile(t, SOLUTIONS["discounted-returns"]!),
  ]);
  t.is(right.code, 0, right.stderr);
  t.regex(right.stdout, /^✓ example: three rewards of 1, gamma 0\.9 \(\d+ ms\)$/m);
  t.regex(right.stdout, /\(hidden\)/);
  t.notRegex(right.stdout, /^✗/m);
  t.regex(right.stdout, /^passed: 10\/10$/m);
  t.notRegex(right.stdout, /env id/);
});

test("submitting an environment that passes its checks prints the env id to train on", async (t) => {
  const me = await api().register();
  const cli = await cliFor(t);
  await cli.run(["login", "--server", api().url, "--email", me.email], { stdin: `${me.password}\n` });
  const r = await cli.run([
    "submit",
    "custom-environment",
    await codeFile(t, getExercise("custom-environment")!.starterCode),
  ]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^✓ determinism \(\d+ ms\)$/m);
  t.regex(r.stdout, /^env id: custom:[0-9a-f-]{36} \(train on it with --env\)$/m);
});

test("submit to an unknown exercise prints the server's detail and exits non-zero", async (t) => {
  const me = await api().register();
  const cli = await cliFor(t);
  await cli.run(["login", "--server", api().url, "--email", me.email], { stdin: `${me.password}\n` });
  const r = await cli.run(["submit", "no-such-exercise", await codeFile(t, "function f() {}")]);
  t.is(r.code, 1);
  t.regex(r.stderr, /^proxima submit: exercise not found$/m);
});
