/**
 * `npm run test:stress [-- --runs N] [--hog K] [ava arguments…]`: runs the ava suite N times in a row
 * (default 3), optionally with K busy processes beside it that keep K cores at 100 % (default 0), and
 * reports every test that failed even once, with how many times. A flaky test is a failing test: this
 * is how one is found before CI finds it. Arguments it does not know go to ava (files, --match).
 *
 * It reads ava's TAP report (`--tap`: one `ok`/`not ok N - file › title` line per test, the error in
 * the YAML block after it; crashes, timeouts and files that exit early are `not ok` lines too).
 * Exit code 0 when every test of every run passed, 1 otherwise.
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { parseArgs } from "node:util";

/** ava's command line (its package exports do not list it). */
const AVA_CLI = path.resolve(import.meta.dirname, "../node_modules/ava/entrypoints/cli.js");

interface Failure {
  title: string;
  /** The first line of the error's message, as ava reported it. */
  message: string;
}

interface RunResult {
  run: number;
  passed: number;
  failures: Failure[];
  exitCode: number | null;
  seconds: number;
}

function options(): { runs: number; hog: number; avaArgs: string[] } {
  const { values, positionals, tokens } = parseArgs({
    options: { runs: { type: "string", default: "3" }, hog: { type: "string", default: "0" } },
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  const runs = Number(values.runs);
  const hog = Number(values.hog);
  if (!Number.isInteger(runs) || runs < 1)
    throw new RangeError(`--runs must be a positive integer, got ${values.runs}`);
  if (!Number.isInteger(hog) || hog < 0)
    throw new RangeError(`--hog must be an integer ≥ 0, got ${values.hog}`);
  // Options that are not ours, with their values, and the positionals (files) go to ava as given.
  const avaArgs: string[] = [];
  for (const token of tokens ?? []) {
    if (token.kind === "option" && token.name !== "runs" && token.name !== "hog") {
      avaArgs.push(token.rawName, ...(token.value === undefined ? [] : [token.value]));
    }
  }
  return { runs, hog, avaArgs: [...avaArgs, ...positionals] };
}

/** K processes that spin until killed: the load of a busy CI machine. */
function startHog(k: number): ChildProcess[] {
  return Array.from({ length: k }, () => spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
}

/** Reads ava's TAP stream: the passed count and each failure with its first message line. */
export function parseTap(tap: string): { passed: number; failures: Failure[] } {
  const lines = tap.split("\n");
  const failures: Failure[] = [];
  let passed = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^ok \d+ - /.test(line) && !/ # (SKIP|TODO)$/.test(line)) passed++;
    const failed = /^not ok \d+ - (.*)$/.exec(line);
    if (!failed || / # TODO$/.test(line)) continue;
    // The YAML block that follows (`  ---` … `  ...`): ava's own message at four spaces, and for a
    // thrown error or a rejected promise, that error's message deeper in its details.
    let top = "";
    let thrown = "";
    for (
      let j = i + 2;
      lines[i + 1]?.trim() === "---" && j < lines.length && lines[j]!.trim() !== "...";
      j++
    ) {
      const m = /^( +)message: (.*)$/.exec(lines[j]!);
      if (!m) continue;
      const text = unquote(/^[>|]-?$/.test(m[2]!) ? (lines[j + 1]?.trim() ?? "") : m[2]!);
      if (m[1]!.length === 4) top ||= text;
      else thrown ||= text;
    }
    const message = [top, thrown].filter(Boolean).join(": ");
    failures.push({ title: failed[1]!.trim(), message });
  }
  return { passed, failures };
}

function unquote(text: string): string {
  return text.replace(/,$/, "").replace(/^'(.*)'$|^"(.*)"$/, "$1$2");
}

function runAva(run: number, avaArgs: string[]): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    // The Node that runs this script (the project's Node 24) runs ava too.
    const child = spawn(process.execPath, [AVA_CLI, "--tap", ...avaArgs], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, FORCE_COLOR: "0" },
    });
    let tap = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      tap += chunk.toString("utf8");
    });
    child.once("error", reject);
    child.once("close", (exitCode) => {
      const { passed, failures } = parseTap(tap);
      resolve({ run, passed, failures, exitCode, seconds: (performance.now() - started) / 1000 });
    });
  });
}

function report(results: RunResult[], hog: number): boolean {
  const counts = new Map<string, { n: number; messages: Set<string> }>();
  for (const r of results) {
    for (const f of r.failures) {
      const entry = counts.get(f.title) ?? { n: 0, messages: new Set<string>() };
      entry.n++;
      if (f.message) entry.messages.add(f.message);
      counts.set(f.title, entry);
    }
  }
  console.log(`\ntest:stress — ${results.length} run(s) of the suite, ${hog} busy process(es) beside it`);
  for (const r of results) {
    console.log(
      `  run ${r.run}: ${r.passed} passed, ${r.failures.length} failed, ava exit ${r.exitCode}, ${r.seconds.toFixed(0)} s`,
    );
  }
  // ava exits non-zero with no `not ok` line when it cannot start at all (bad arguments, no files).
  const silent = results.filter((r) => r.exitCode !== 0 && r.failures.length === 0);
  if (counts.size === 0 && silent.length === 0) {
    console.log("no test failed in any run");
    return true;
  }
  console.log("\nfailed at least once (failures/runs):");
  for (const [title, { n, messages }] of [...counts].sort((a, b) => b[1].n - a[1].n)) {
    console.log(`  ${n}/${results.length}  ${title}`);
    for (const m of messages) console.log(`         ${m}`);
  }
  for (const r of silent) console.log(`  run ${r.run}: ava exited ${r.exitCode} without a failed test`);
  return false;
}

async function main(): Promise<void> {
  const { runs, hog, avaArgs } = options();
  const hogs = startHog(hog);
  const stopHogs = () => {
    for (const h of hogs) h.kill("SIGKILL");
  };
  process.once("SIGINT", () => {
    stopHogs();
    process.exit(130);
  });
  const results: RunResult[] = [];
  try {
    for (let run = 1; run <= runs; run++) {
      console.error(`[test:stress] run ${run} of ${runs}${hog ? ` beside ${hog} busy process(es)` : ""}`);
      results.push(await runAva(run, avaArgs));
    }
  } finally {
    stopHogs();
  }
  process.exitCode = report(results, hog) ? 0 : 1;
}

if (import.meta.main) await main();
