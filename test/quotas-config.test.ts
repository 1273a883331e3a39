import { spawn } from "node:child_process";
import path from "node:path";
import test from "ava";
import { ConfigError, loadConfig } from "../config.ts";
import { roleQuotas } from "../services/runs/quotas.ts";

/**
 * Issue 19, bad input: a role quota (QUOTA_<ROLE>_<LIMIT>) that is not a positive number is refused
 * at start with the variable's name, instead of locking every user of the role out at their first
 * request (0) or running on a surprise (1.5, "ten").
 */
const QUOTA_NAMES = Object.keys(loadConfig({})).filter((k) => k.startsWith("QUOTA_"));
const COUNTED = QUOTA_NAMES.filter((k) => !k.endsWith("_GPU"));

test("every role quota is a setting, submissions per minute included", (t) => {
  t.is(QUOTA_NAMES.length, 29);
  const q = roleQuotas(loadConfig({ QUOTA_RESEARCHER_SUBMISSIONS_PER_MINUTE: "7" }));
  t.is(q.researcher.submissionsPerMinute, 7);
  t.is(q.learner.submissionsPerMinute, 10);
});

test("a count quota that is not a positive integer is refused, naming its variable", (t) => {
  for (const name of COUNTED) {
    for (const bad of ["0", "-1", "1.5", "ten", "", "1e400"]) {
      const err = t.throws(() => loadConfig({ [name]: bad }), { instanceOf: ConfigError }, `${name}=${bad}`);
      t.regex(err?.message ?? "", new RegExp(`${name}: must be`), `${name}=${bad}`);
    }
    t.notThrows(() => loadConfig({ [name]: "1" }));
  }
});

test("a GPU quota that is not a boolean is refused, naming its variable", (t) => {
  const err = t.throws(() => loadConfig({ QUOTA_LEARNER_GPU: "maybe" }), { instanceOf: ConfigError });
  t.regex(err.message, /QUOTA_LEARNER_GPU/);
});

test("the replaced SUBMISSIONS_PER_MINUTE is refused with the name that replaced it", (t) => {
  const err = t.throws(() => loadConfig({ SUBMISSIONS_PER_MINUTE: "5" }), { instanceOf: ConfigError });
  t.regex(err.message, /SUBMISSIONS_PER_MINUTE: .*QUOTA_<ROLE>_SUBMISSIONS_PER_MINUTE/);
});

test("a process started with a bad quota exits 1 and says which variable, without a stack trace", async (t) => {
  const child = spawn(process.execPath, ["--import", "tsx", "main.ts"], {
    cwd: path.resolve(import.meta.dirname, ".."),
    env: {
      PATH: process.env["PATH"] ?? "",
      QUOTA_LEARNER_CONCURRENT_RUNS: "0",
      QUOTA_ADMIN_TOTAL_STEPS: "lots",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  t.is(code, 1);
  t.regex(stderr, /QUOTA_LEARNER_CONCURRENT_RUNS: must be a positive integer/);
  t.regex(stderr, /QUOTA_ADMIN_TOTAL_STEPS: must be a positive integer/);
  t.notRegex(stderr, /\n\s+at /, "no stack trace");
});
