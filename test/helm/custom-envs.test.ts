import test from "ava";
import { loadConfig } from "../../config.ts";
import { containersOf, envOf, render, renderError } from "./helpers.ts";

// Ops set the bounds of environments defined by code through the chart's config.customEnvs (issue 15,
// findings 3 and 4): every Proxima container gets them, and config.ts accepts what the chart renders.

const SETTINGS = [
  "CODE_ENV_MAX_DISCRETE_ACTIONS",
  "CODE_ENV_MAX_OBSERVATION_SIZE",
  "CODE_ENV_MAX_ACTION_SIZE",
  "CODE_ENV_MEMORY_MB",
  "CODE_ENV_PROCESS_MEMORY_MB",
  "SUBMISSIONS_ENV_CHECK_CPU_MS",
  "SUBMISSIONS_ENV_CHECK_WALL_MS",
  "SUBMISSIONS_ENV_CHECKS_CONCURRENT",
];

/** The Proxima containers (those that read config.ts: they have SERVICES). */
async function proximaEnvs(set: string[] = []) {
  const containers = containersOf(await render({ set }));
  return containers
    .map(({ owner, container }) => ({ owner, env: envOf(container) }))
    .filter((c) => c.env.has("SERVICES"));
}

test("every Proxima container gets the custom-env caps and check budget, and their defaults are config.ts's", async (t) => {
  const containers = await proximaEnvs();
  t.true(containers.length >= 3);
  const defaults = loadConfig({});
  for (const { owner, env } of containers) {
    for (const name of SETTINGS) {
      t.is(env.get(name)?.value, String(defaults[name as keyof typeof defaults]), `${owner} ${name}`);
    }
  }
});

test("config.customEnvs sets them; config.ts parses what the chart renders", async (t) => {
  const containers = await proximaEnvs([
    "config.customEnvs.maxDiscreteActions=16",
    "config.customEnvs.checkCpuMs=5000",
    "config.customEnvs.checksConcurrent=4",
  ]);
  for (const { owner, env } of containers) {
    const vars = Object.fromEntries(SETTINGS.map((n) => [n, env.get(n)?.value as string]));
    const config = loadConfig(vars);
    t.is(config.CODE_ENV_MAX_DISCRETE_ACTIONS, 16, owner);
    t.is(config.SUBMISSIONS_ENV_CHECK_CPU_MS, 5000, owner);
    t.is(config.SUBMISSIONS_ENV_CHECKS_CONCURRENT, 4, owner);
  }
});

test("values.schema.json refuses a cap config.ts would refuse", async (t) => {
  t.regex(await renderError({ set: ["config.customEnvs.maxDiscreteActions=1"] }), /maxDiscreteActions/);
  t.regex(await renderError({ set: ["config.customEnvs.processMemoryMb=64"] }), /processMemoryMb/);
});
