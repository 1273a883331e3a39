import test from "ava";
import { loadConfig } from "../../config.ts";
import { envOf, type Manifest, named, podSpecOf, render } from "./helpers.ts";

/**
 * What the chart exposes of the API and how ops set its abuse limits (issue 15, findings 5, 6, 8):
 * /metrics is scraped on the internal HEALTH_PORT, never through the public Service.
 */
function apiContainer(manifests: Manifest[]): Manifest {
  return podSpecOf(named(manifests, "Deployment", "proxima-api"))!.containers[0];
}

function configOf(container: Manifest) {
  const env: Record<string, string> = {};
  for (const [name, e] of envOf(container)) if (typeof e.value === "string") env[name] = e.value;
  return loadConfig(env);
}

test("the ServiceMonitor scrapes HEALTH_PORT only; the public API Service has no route to it", async (t) => {
  const manifests = await render({ set: ["metrics.serviceMonitor.enabled=true"] });
  const monitor = named(manifests, "ServiceMonitor", "proxima").spec;
  t.deepEqual(
    monitor.endpoints.map((e: Manifest) => [e.port, e.path]),
    [["health", "/metrics"]],
  );

  const publicService = named(manifests, "Service", "proxima-api");
  t.deepEqual(
    publicService.spec.ports.map((p: Manifest) => p.name),
    ["http"],
  );
  t.is(publicService.metadata.labels["proxima.dev/scrape"], undefined, "not scraped: its /metrics is 404");

  const metricsService = named(manifests, "Service", "proxima-api-metrics");
  t.is(metricsService.spec.clusterIP, "None");
  t.is(metricsService.metadata.labels["proxima.dev/scrape"], "true");
  t.deepEqual(metricsService.spec.ports[0], {
    name: "health",
    port: 9090,
    targetPort: "health",
    protocol: "TCP",
  });

  const container = apiContainer(manifests);
  t.true(container.ports.some((p: Manifest) => p.name === "health" && p.containerPort === 9090));
  const config = configOf(container);
  t.is(config.NODE_ENV, "production", "so /metrics is not on the public port");
  t.is(config.HEALTH_PORT, 9090);
  t.is(config.METRICS_TOKEN, undefined);
});

test("the chart's API limits are config.ts's defaults, and ops set them in the values", async (t) => {
  const defaults = loadConfig({});
  const chart = configOf(apiContainer(await render()));
  for (const key of [
    "REGISTRATION",
    "REGISTRATIONS_PER_IP_PER_HOUR",
    "LOGIN_MAX_FAILURES_PER_ACCOUNT",
    "LOGIN_MAX_FAILURES_PER_ACCOUNT_GLOBAL",
    "LOGIN_MAX_FAILURES_PER_IP",
    "LOGIN_FAILURE_WINDOW_S",
    "WS_MAX_CONNECTIONS_PER_USER",
    "WS_UPGRADES_PER_MIN_PER_USER",
    "WS_FAILED_UPGRADES_PER_MIN_PER_IP",
  ] as const) {
    t.is(chart[key], defaults[key], key);
  }

  const set = configOf(
    apiContainer(
      await render({
        set: [
          "api.registration=invite",
          "api.limits.wsConnectionsPerUser=5",
          "api.limits.loginFailuresPerAccount=2592000",
        ],
      }),
    ),
  );
  t.is(set.REGISTRATION, "invite");
  t.is(set.WS_MAX_CONNECTIONS_PER_USER, 5);
  t.is(
    set.LOGIN_MAX_FAILURES_PER_ACCOUNT_GLOBAL,
    2_592_000,
    "large values are not rendered in float notation",
  );
});
