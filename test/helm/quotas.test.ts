import test from "ava";
import { loadConfig } from "../../config.ts";
import { roleQuotas } from "../../services/runs/quotas.ts";
import { containersOf, envOf, type Manifest, named, podSpecOf, render, renderError } from "./helpers.ts";

/** The role quotas as the chart sets them in a container's environment (QUOTA_*), parsed by config.ts. */
function quotasOf(container: Manifest) {
  const env: Record<string, string> = {};
  for (const [name, e] of envOf(container)) if (name.startsWith("QUOTA_")) env[name] = e.value as string;
  return { env, quotas: roleQuotas(loadConfig(env)) };
}

test("the chart's default role quotas are config.ts's, set on every Proxima container", async (t) => {
  const manifests = await render();
  const defaults = roleQuotas(loadConfig({}));
  // Every container that gets Proxima's shared environment (it names the services it hosts).
  const containers = containersOf(manifests).filter((c) => envOf(c.container).has("SERVICES"));
  t.true(containers.length >= 3);
  for (const { container, owner } of containers) {
    const { env, quotas } = quotasOf(container);
    t.is(Object.keys(env).length, 29, owner);
    t.deepEqual(quotas, defaults, owner);
  }
});

test("ops set a role's quota in the values; a limit the chart does not know is refused", async (t) => {
  const manifests = await render({
    set: ["config.quotas.learner.parameters=5000", "config.quotas.researcher.concurrentSweeps=1"],
  });
  const controller = podSpecOf(named(manifests, "Deployment", "proxima-controller"))!.containers[0];
  const { quotas } = quotasOf(controller);
  t.is(quotas.learner.parameters, 5000);
  t.is(quotas.researcher.concurrentSweeps, 1);
  t.regex(await renderError({ set: ["config.quotas.learner.bogus=1"] }), /bogus/);
  t.regex(await renderError({ set: ["config.quotas.learner.parameters=-1"] }), /parameters/);
});

test("the chart's schema rejects a malformed quota: zero, negative, fractional, text, a non-boolean GPU", async (t) => {
  const malformed: [string, RegExp][] = [
    ["config.quotas.learner.concurrentRuns=0", /concurrentRuns/],
    ["config.quotas.researcher.submissionsPerMinute=0", /submissionsPerMinute/],
    ["config.quotas.admin.totalSteps=-5", /totalSteps/],
    ["config.quotas.learner.runnersPerRun=1.5", /runnersPerRun/],
    ["config.quotas.researcher.concurrentSweeps=0", /concurrentSweeps/],
    ["config.quotas.learner.totalSteps=lots", /totalSteps/],
    ["config.quotas.learner.gpu=maybe", /gpu/],
  ];
  for (const [set, name] of malformed) t.regex(await renderError({ set: [set] }), name, set);
});

test("ops set submissions per minute for each role in the values", async (t) => {
  const manifests = await render({
    set: ["config.quotas.learner.submissionsPerMinute=3", "config.quotas.admin.submissionsPerMinute=1000"],
  });
  const controller = podSpecOf(named(manifests, "Deployment", "proxima-controller"))!.containers[0];
  const { env, quotas } = quotasOf(controller);
  t.is(env["QUOTA_LEARNER_SUBMISSIONS_PER_MINUTE"], "3");
  t.is(quotas.learner.submissionsPerMinute, 3);
  t.is(quotas.admin.submissionsPerMinute, 1000);
  t.is(quotas.researcher.submissionsPerMinute, 20);
});
