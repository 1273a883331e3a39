import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import test from "ava";
import { ConfigError, loadConfig } from "../../config.ts";
import { containersOf, envOf, named, podSpecOf, render, renderError } from "./helpers.ts";

/** The fair-share settings (FAIRSHARE_*) as the chart sets them in a container's environment. */
function fairShareEnv(env: Map<string, { value?: unknown }>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, e] of env) if (name.startsWith("FAIRSHARE_")) out[name] = e.value as string;
  return out;
}

const pick = (c: ReturnType<typeof loadConfig>) => ({
  learner: c.FAIRSHARE_WEIGHT_LEARNER,
  researcher: c.FAIRSHARE_WEIGHT_RESEARCHER,
  admin: c.FAIRSHARE_WEIGHT_ADMIN,
  reserveAfterMs: c.FAIRSHARE_RESERVE_AFTER_MS,
});

test("the chart's default fair-share weights and reservation wait are config.ts's, on every Proxima container", async (t) => {
  const manifests = await render();
  const containers = containersOf(manifests).filter((c) => envOf(c.container).has("SERVICES"));
  t.true(containers.length >= 3);
  for (const { container, owner } of containers) {
    const env = fairShareEnv(envOf(container));
    t.is(Object.keys(env).length, 4, owner);
    t.deepEqual(pick(loadConfig(env)), pick(loadConfig({})), owner);
  }
});

test("ops set a role's weight in the values; the schema refuses a weight that is not a positive number", async (t) => {
  // A values file: `--set` gives 2.5 to the chart as a string.
  const file = path.join(tmpdir(), `proxima-helm-${process.pid}-fair-share.yaml`);
  await writeFile(
    file,
    "config:\n  fairShare:\n    weights:\n      researcher: 2.5\n    reserveAfterMs: 60000\n",
  );
  const manifests = await render({ values: [file] });
  const controller = podSpecOf(named(manifests, "Deployment", "proxima-controller"))!.containers[0];
  const config = loadConfig(fairShareEnv(envOf(controller)));
  t.is(config.FAIRSHARE_WEIGHT_RESEARCHER, 2.5);
  t.is(config.FAIRSHARE_RESERVE_AFTER_MS, 60_000);
  t.regex(await renderError({ set: ["config.fairShare.weights.learner=0"] }), /learner/);
  t.regex(await renderError({ set: ["config.fairShare.weights.admin=-1"] }), /admin/);
  t.regex(await renderError({ set: ["config.fairShare.weights.learner=heavy"] }), /learner/);
  t.regex(await renderError({ set: ["config.fairShare.weights.guest=1"] }), /guest/);
});

test("a weight that is not a positive number is refused at start, naming the variable", (t) => {
  for (const bad of ["0", "-1", "heavy", ""]) {
    const err = t.throws(() => loadConfig({ FAIRSHARE_WEIGHT_LEARNER: bad }), { instanceOf: ConfigError });
    t.regex(err!.message, /FAIRSHARE_WEIGHT_LEARNER/, `"${bad}"`);
  }
  t.is(loadConfig({ FAIRSHARE_WEIGHT_ADMIN: "0.5" }).FAIRSHARE_WEIGHT_ADMIN, 0.5);
});
