import { createRequire } from "node:module";
import type { Middleware } from "koa";
import type { ServiceBroker } from "moleculer";
import { processMetricsText } from "../services/metrics.ts";
import type { ApiState } from "./context.ts";

/**
 * Prometheus metrics of the API process: prometheus-api-metrics' HTTP histograms (by method, route
 * pattern and status) and prom-client's default process metrics, beside Proxima's own metrics and the
 * broker's (calls, events, transit): services/metrics.ts serves them all, so that one scrape of `/metrics`
 * covers the process. The middleware registers its metrics in the registry services/metrics.ts reads.
 */
const require = createRequire(import.meta.url);

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

export function metricsText(broker: ServiceBroker): Promise<{ contentType: string; body: string }> {
  return processMetricsText(broker);
}
