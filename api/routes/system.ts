import { createHash, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import type { Config } from "../../config.ts";
import { UnauthorizedError } from "../../lib/errors.ts";
import type { ApiContext, ApiDeps } from "../context.ts";
import { DOCS_CSP, renderDocsPage } from "../docs-page.ts";
import { metricsText } from "../metrics.ts";
import type { RouteScope } from "../routing/route-table.ts";

/** Probes and scrapes, outside `/api/v1`: no authentication, no rate limit (kubelets and Prometheus). */
export function systemRoutes(root: RouteScope, deps: ApiDeps): void {
  root.add({
    method: "get",
    path: "/healthz",
    operationId: "healthz",
    summary: "Liveness: the process is up and serving HTTP.",
    tags: ["system"],
    access: "public",
    rateLimited: false,
    responses: { 200: { description: "Up.", schema: z.object({ status: z.literal("ok") }) } },
    handler(ctx) {
      ctx.body = { status: "ok" };
    },
  });

  root.add({
    method: "get",
    path: "/readyz",
    operationId: "readyz",
    summary: "Readiness: the database answers, the broker is connected and the users service is reachable.",
    tags: ["system"],
    access: "public",
    rateLimited: false,
    responses: {
      200: { description: "Ready.", schema: ReadinessSchema },
      503: { description: "Not ready; `checks` says what is missing.", schema: ReadinessSchema },
    },
    async handler(ctx) {
      const checks = {
        database: await deps.dbReady(),
        broker: brokerConnected(deps),
        users: serviceAvailable(deps, "users"),
      };
      const ready = checks.database && checks.broker && checks.users;
      ctx.status = ready ? 200 : 503;
      ctx.body = { status: ready ? "ready" : "not-ready", checks };
    },
  });

  const exposure = metricsExposure(deps.config);
  if (exposure === "none") return;
  root.add({
    method: "get",
    path: "/metrics",
    operationId: "metrics",
    summary: "Prometheus metrics: HTTP, process and broker.",
    description:
      "Served on the API port outside production, or with METRICS_TOKEN as a bearer token; in production " +
      "without METRICS_TOKEN, only on the internal HEALTH_PORT.",
    tags: ["system"],
    access: "public",
    rateLimited: false,
    responses: {
      200: { description: "Prometheus text format.", schema: z.string(), contentType: "text/plain" },
      401: { description: "With METRICS_TOKEN set: the bearer token is not it." },
    },
    async handler(ctx) {
      if (exposure === "token") checkMetricsToken(ctx, deps.config.METRICS_TOKEN!);
      const { contentType, body } = await metricsText(deps.broker);
      ctx.type = contentType;
      ctx.body = body;
    },
  });
}

/**
 * Whether the public API port serves /metrics (issue 15, finding 8: process, route and broker
 * metrics are reconnaissance for anyone). In production it does only with a token; the chart's
 * ServiceMonitor scrapes HEALTH_PORT, which the API process serves too (platform.ts).
 */
export function metricsExposure(
  config: Pick<Config, "NODE_ENV" | "METRICS_TOKEN">,
): "open" | "token" | "none" {
  if (config.METRICS_TOKEN !== undefined) return "token";
  return config.NODE_ENV === "production" ? "none" : "open";
}

function checkMetricsToken(ctx: ApiContext, token: string): void {
  const presented = /^Bearer +(\S+) *$/i.exec(ctx.get("authorization"))?.[1] ?? "";
  // Digests of equal length, compared in constant time: the comparison reveals nothing of the token.
  const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();
  if (!timingSafeEqual(digest(presented), digest(token))) {
    throw new UnauthorizedError("/metrics needs the METRICS_TOKEN as a bearer token");
  }
}

const ReadinessSchema = z.object({
  status: z.enum(["ready", "not-ready"]),
  checks: z.object({ database: z.boolean(), broker: z.boolean(), users: z.boolean() }),
});

function brokerConnected({ broker }: ApiDeps): boolean {
  if (!broker.started) return false;
  // No transporter: one process, nothing to be connected to.
  return broker.transit ? broker.transit.connected === true : true;
}

function serviceAvailable({ broker }: ApiDeps, name: string): boolean {
  return broker.registry.getServiceList({ onlyAvailable: true }).some((s) => s.name === name);
}

/** The document and its page, under `/api/v1`; built on first request, once every route is known. */
export function documentationRoutes(v1: RouteScope, document: () => Record<string, unknown>): void {
  v1.add({
    method: "get",
    path: "/openapi.json",
    operationId: "openapi",
    summary: "This API's OpenAPI 3.1 document.",
    tags: ["system"],
    access: "public",
    hidden: true,
    responses: { 200: { description: "The document." } },
    handler(ctx) {
      ctx.body = document();
    },
  });

  let page: string | undefined;
  v1.add({
    method: "get",
    path: "/docs",
    operationId: "docs",
    summary: "The OpenAPI document as an HTML page.",
    tags: ["system"],
    access: "public",
    hidden: true,
    responses: { 200: { description: "HTML." } },
    handler(ctx) {
      page ??= renderDocsPage(document());
      ctx.set("Content-Security-Policy", DOCS_CSP);
      ctx.set("Cache-Control", "no-cache");
      ctx.type = "text/html; charset=utf-8";
      ctx.body = page;
    },
  });
}
