import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import test from "ava";
import { parse } from "yaml";
import { startTestPlatform } from "../helpers/platform.ts";
import { metricNamesOf, queryableNames } from "../helpers/promql.ts";
import { waitFor } from "../helpers/wait.ts";
import { launch, tinyRun, waitForStatus } from "../runs/helpers.ts";
import { NATS_URL, ROOT, uniqueNamespace } from "./helpers.ts";

/**
 * Issue 19: every query of the chart's dashboards and alerts names a metric the code exports. One
 * process hosts every service (the API, a controller's services and a worker, over NATS) with the
 * probe/metrics port the ServiceMonitor scrapes; the names of each query are looked up in its /metrics.
 */
const FILES = path.join(ROOT, "helm/proxima/files");

interface Query {
  where: string;
  expr: string;
}

async function dashboardQueries(): Promise<Query[]> {
  const dir = path.join(FILES, "dashboards");
  const queries: Query[] = [];
  for (const file of (await readdir(dir)).filter((f) => f.endsWith(".json"))) {
    const dashboard = JSON.parse(await readFile(path.join(dir, file), "utf8")) as {
      panels: { title: string; targets?: { expr: string }[] }[];
      templating: { list: { name: string; definition?: string }[] };
    };
    for (const panel of dashboard.panels)
      for (const target of panel.targets ?? [])
        queries.push({ where: `${file}: ${panel.title}`, expr: target.expr });
    for (const variable of dashboard.templating.list)
      if (variable.definition) {
        // label_values(metric, label): the metric is the first argument.
        const metric = /^label_values\(([^,]+),/.exec(variable.definition)?.[1];
        if (metric) queries.push({ where: `${file}: $${variable.name}`, expr: metric });
      }
  }
  return queries;
}

async function alertQueries(): Promise<Query[]> {
  const rules = parse(await readFile(path.join(FILES, "alerts.yaml"), "utf8")) as {
    groups: { rules: { alert: string; expr: string }[] }[];
  };
  return rules.groups.flatMap((g) =>
    g.rules.map((r) => ({ where: `alerts.yaml: ${r.alert}`, expr: r.expr })),
  );
}

test("the PromQL reader finds the metric names of a query, not its functions, labels or keywords", (t) => {
  t.deepEqual(
    metricNamesOf(
      'histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{namespace="$namespace"}[$__rate_interval])))',
    ),
    ["http_request_duration_seconds_bucket"],
  );
  t.deepEqual(
    metricNamesOf(
      'sum(rate(a_total{code=~"5.."}[5m])) / sum(rate(b_total[5m])) > 0.05 and on (pod) c == bool 1',
    ),
    ["a_total", "b_total", "c"],
  );
});

test("every dashboard panel and alert queries metrics that a running platform exports", async (t) => {
  const platform = await startTestPlatform(t, {
    SERVICES: "all",
    NATS_URL,
    MOLECULER_NAMESPACE: uniqueNamespace(),
    HEALTH_PORT: "0",
    WORKER_SLOTS: "2",
    SUBMISSIONS_POOL_SIZE: "1",
    RUN_SCHEDULE_INTERVAL_MS: "100",
  });
  // A run of 2 iterations of 128 env steps, so that the run and worker series have values (and the
  // HTTP histograms routes and statuses).
  const { tokens } = await platform.learner();
  const run = await launch(platform, tokens.accessToken, tinyRun(2));
  await waitForStatus(platform, tokens.accessToken, run.id, ["completed"]);
  const healthUrl = platform.platform.healthUrl!;
  const scrape = async () => (await fetch(`${healthUrl}/metrics`)).text();
  // The grading pool's sandbox process is up once the submissions service has started it.
  const text = await waitFor(
    scrape,
    (body) => /^proxima_sandbox_processes\{kind="job"\} [1-9]/m.test(body),
    "a sandbox process of the grading pool in /metrics",
  );
  const exported = queryableNames(text);

  const queries = [...(await dashboardQueries()), ...(await alertQueries())];
  t.true(queries.length >= 40, `${queries.length} queries`);
  const missing = queries.flatMap(({ where, expr }) =>
    metricNamesOf(expr)
      .filter((name) => !exported.has(name))
      .map((name) => `${where}: ${name}`),
  );
  t.deepEqual(missing, []);

  // The scrape-time gauges read this process's state.
  t.regex(text, /^proxima_db_up 1$/m);
  t.regex(text, /^proxima_runs\{status="queued"\} 0$/m);
  t.regex(text, /^proxima_worker_slots\{state="free",gpu="false"\} 2$/m);
  t.regex(text, /^proxima_draining 0$/m);
  t.regex(text, /^moleculer_transit_connected 1$/m);
  t.regex(text, /^proxima_runs\{status="completed"\} 1$/m);
  t.regex(text, /^proxima_runs_finished_15m\{status="completed"\} 1$/m);
  t.regex(text, /^proxima_worker_env_steps_total 256$/m);
  t.regex(text, /^proxima_lease_takeovers_total\{kind="run"\} 0$/m);
});
