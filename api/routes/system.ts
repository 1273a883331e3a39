import { z } from "zod";
import type { ApiDeps } from "../context.ts";
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

  root.add({
    method: "get",
    path: "/metrics",
    operationId: "metrics",
    summary: "Prometheus metrics: HTTP, process and broker.",
    tags: ["system"],
    access: "public",
    rateLimited: false,
    responses: {
      200: { description: "Prometheus text format.", schema: z.string(), contentType: "text/plain" },
    },
    async handler(ctx) {
      const { contentType, body } = await metricsText(deps.broker);
      ctx.type = contentType;
      ctx.body = body;
    },
  });
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
