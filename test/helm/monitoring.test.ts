import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import test from "ava";
import { parse, stringify } from "yaml";
import { byKind, CHART, lint, type Manifest, named, render, renderError } from "./helpers.ts";

/** Issue 19: the chart's Grafana dashboards and Prometheus alerts, both opt-in. */
const ALERTS = path.join(CHART, "files/alerts.yaml");
const DASHBOARDS = ["platform", "training", "workers"];

const dashboardMaps = (manifests: Manifest[]) =>
  byKind(manifests, "ConfigMap").filter(
    (m) => m.metadata.labels["app.kubernetes.io/component"] === "dashboards",
  );

test("by default the chart renders no dashboard and no alert rule", async (t) => {
  const manifests = await render();
  t.deepEqual(dashboardMaps(manifests), []);
  t.deepEqual(byKind(manifests, "PrometheusRule"), []);
  // Settings of a disabled feature render nothing either.
  const configured = await render({
    set: ["grafana.dashboards.labels.team=ml", "metrics.prometheusRule.labels.release=kps"],
  });
  t.deepEqual(dashboardMaps(configured), []);
  t.deepEqual(byKind(configured, "PrometheusRule"), []);
});

test("enabled, each dashboard is a ConfigMap labelled for Grafana's sidecar, its JSON as shipped", async (t) => {
  const manifests = await render({ set: ["grafana.dashboards.enabled=true"] });
  t.deepEqual(
    dashboardMaps(manifests)
      .map((m) => m.metadata.name)
      .sort(),
    DASHBOARDS.map((d) => `proxima-dashboard-${d}`),
  );
  for (const name of DASHBOARDS) {
    const map = named(manifests, "ConfigMap", `proxima-dashboard-${name}`);
    t.is(map.metadata.labels.grafana_dashboard, "1");
    const shipped = JSON.parse(await readFile(path.join(CHART, `files/dashboards/${name}.json`), "utf8"));
    const rendered = JSON.parse(map.data[`proxima-${name}.json`]);
    t.deepEqual(rendered, shipped, name);
    t.true(
      rendered.panels.some((p: Manifest) => p.targets?.length > 0),
      name,
    );
  }
});

test("the sidecar's label, the folder annotation and the namespace are the operator's to set", async (t) => {
  // A values file: a null drops the default label (helm merges maps), which --set cannot express.
  const dir = await mkdtemp(path.join(tmpdir(), "proxima-dashboards-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const values = path.join(dir, "values.yaml");
  await writeFile(
    values,
    stringify({
      grafana: {
        dashboards: {
          enabled: true,
          labels: { grafana_dashboard: null, dashboards: "proxima" },
          annotations: { grafana_folder: "Proxima" },
          namespace: "monitoring",
        },
      },
    }),
  );
  const manifests = await render({ values: [values] });
  const map = named(manifests, "ConfigMap", "proxima-dashboard-training");
  t.is(map.metadata.labels.dashboards, "proxima");
  t.is(map.metadata.labels.grafana_dashboard, undefined);
  t.is(map.metadata.annotations.grafana_folder, "Proxima");
  t.is(map.metadata.namespace, "monitoring");
  t.regex(await renderError({ set: ["grafana.dashboards.namespace=Not_A_Namespace"] }), /namespace/);
  t.regex(await renderError({ set: ["grafana.dashboards.enable=true"] }), /enable/);
});

test("enabled, the PrometheusRule's groups are files/alerts.yaml, the file promtool checks", async (t) => {
  const manifests = await render({
    set: ["metrics.prometheusRule.enabled=true", "metrics.prometheusRule.labels.release=kps"],
  });
  const rule = named(manifests, "PrometheusRule", "proxima");
  t.is(rule.metadata.labels.release, "kps");
  t.deepEqual(rule.spec, parse(await readFile(ALERTS, "utf8")));
  const alerts = rule.spec.groups.flatMap((g: Manifest) => g.rules.map((r: Manifest) => r.alert));
  t.deepEqual(alerts.sort(), [
    "ProximaApiErrorRatio",
    "ProximaApiLatencyHigh",
    "ProximaDatabaseUnreachable",
    "ProximaDrainTooLong",
    "ProximaLeaseTakeoversRepeated",
    "ProximaNatsUnreachable",
    "ProximaNoFreeSlots",
    "ProximaQueueWaitTooLong",
    "ProximaRunsFailing",
    "ProximaSandboxCrashLoop",
  ]);
});

test("the ServiceMonitor labels series with the pod's component and worker pool", async (t) => {
  const manifests = await render({ set: ["metrics.serviceMonitor.enabled=true"] });
  const [endpoint] = named(manifests, "ServiceMonitor", "proxima").spec.endpoints;
  t.deepEqual(
    endpoint.relabelings.map((r: Manifest) => r.targetLabel),
    ["component", "pool"],
  );
});

test("helm lint --strict passes with dashboards, alerts and the ServiceMonitor on", async (t) => {
  const result = await lint({
    set: [
      "grafana.dashboards.enabled=true",
      "metrics.prometheusRule.enabled=true",
      "metrics.serviceMonitor.enabled=true",
    ],
  });
  t.true(result.ok, result.stdout + result.stderr);
});
