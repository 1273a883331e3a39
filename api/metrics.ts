import { createRequire } from "node:module";
import type { Middleware } from "koa";
import type { ServiceBroker } from "moleculer";
import { brokerMetricsText } from "../lib/broker-metrics.ts";
import type { ApiState } from "./context.ts";

/**
 * Prometheus metrics of the API process: prometheus-api-metrics' HTTP histograms (by method, route
 * pattern and status) and prom-client's default process metrics, followed by the broker's own
 * metrics (calls, events, transit), so that one scrape of `/metrics` covers the process.
 */
const require = createRequire(import.meta.url);

interface PromRegistry {
  contentType: string;
  metrics(): Promise<string>;
}

// prom-client is resolved from prometheus-api-metrics' own location: the registry must be the very
// instance the middleware registers its histograms in.
const promClient = createRequire(require.resolve("prometheus-api-metrics"))("prom-client") as {
  register: PromRegistry;
};

let httpMetrics: Middleware | undefined;

/**
 * The HTTP metrics middleware. Created once per process: the library registers its metrics in the
 * global registry and would throw on a second registration (tests start several apps per process).
 */
export function httpMetricsMiddleware(): Middleware<ApiState> {
  httpMetrics ??= (
    require("prometheus-api-metrics") as { koaMiddleware(opts: object): Middleware }
  ).koaMiddleware({ excludeRoutes: ["/metrics", "/healthz", "/readyz"] });
  const collect = httpMetrics;
  // The library would answer /metrics itself without the broker's lines; that path is ours.
  return (ctx, next) => (ctx.path.startsWith("/metrics") ? next() : collect(ctx, next));
}

export async function metricsText(broker: ServiceBroker): Promise<{ contentType: string; body: string }> {
  const http = await promClient.register.metrics();
  return {
    contentType: promClient.register.contentType,
    body: `${http.trimEnd()}\n${brokerMetricsText(broker)}`,
  };
}
