import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import test from "ava";
import { parse } from "yaml";
import { CHART } from "./helpers.ts";

/**
 * The chart's alerts (files/alerts.yaml, the PrometheusRule's spec: monitoring.test.ts) pass
 * `promtool check rules`, and `promtool test rules` fires each of them on synthetic series
 * (alerts.promtool.yaml). promtool is Debian's `prometheus` package; .ci/run installs it.
 */
const PROMTOOL = process.env["PROMTOOL_PATH"] ?? "/usr/bin/promtool";
const ALERTS = path.join(CHART, "files/alerts.yaml");
const UNIT_TESTS = path.join(import.meta.dirname, "alerts.promtool.yaml");
const run = promisify(execFile);

/** Why promtool cannot run here, or null when it can. On CI a missing promtool is a failure. */
function promtoolUnavailable(): string | null {
  if (existsSync(PROMTOOL) || process.env["CI"]) return null;
  return `${PROMTOOL} is missing (apt-get install prometheus); set CI=1 to make this a failure`;
}

async function promtool(args: string[]): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await run(PROMTOOL, args);
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: (e.stdout ?? "") + (e.stderr ?? "") || e.message };
  }
}

const unavailable = promtoolUnavailable();
const promtoolTest = unavailable ? test.skip : test;
if (unavailable) console.warn(`alerts.test.ts: ${unavailable}`);

promtoolTest("promtool check rules passes on the chart's alerts", async (t) => {
  const { ok, output } = await promtool(["check", "rules", ALERTS]);
  t.true(ok, output);
  t.regex(output, /SUCCESS: 10 rules found/);
});

promtoolTest(
  "promtool test rules: each alert fires on the series that should trip it, and only then",
  async (t) => {
    const { ok, output } = await promtool(["test", "rules", UNIT_TESTS]);
    t.true(ok, output);
    t.regex(output, /SUCCESS/);
  },
);

test("the unit tests cover every alert, each with a firing case and a quiet one", async (t) => {
  const rules = parse(await readFile(ALERTS, "utf8")) as { groups: { rules: { alert: string }[] }[] };
  const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert)).sort();
  const unit = parse(await readFile(UNIT_TESTS, "utf8")) as {
    tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
  };
  const cases = unit.tests.flatMap((c) => c.alert_rule_test);
  const firing = new Set(cases.filter((c) => c.exp_alerts.length > 0).map((c) => c.alertname));
  const quiet = new Set(cases.filter((c) => c.exp_alerts.length === 0).map((c) => c.alertname));
  t.deepEqual([...firing].sort(), alerts);
  t.deepEqual([...quiet].sort(), alerts);
});
