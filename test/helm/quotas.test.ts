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
    t.is(Object.keys(env).length, 26, owner);
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
