import http from "node:http";
import type { AddressInfo } from "node:net";
import type { ServiceBroker } from "moleculer";
import { brokerMetricsText } from "./broker-metrics.ts";

/**
 * The internal probe and scrape endpoint (HEALTH_PORT): Kubernetes needs `/healthz` (liveness) and
 * `/readyz` (readiness) on every pod, and Prometheus needs `/metrics`. Controllers and workers serve
 * only this; an API process serves it too when HEALTH_PORT is set, with its HTTP metrics added, so
 * that in production `/metrics` need not be on the public port (issue 15, finding 8). Plain
 * `node:http`, so that a worker does not load Koa for three routes.
 *
 *   /healthz  200 while the process serves HTTP (the event loop turns)
 *   /readyz   200 when the broker is started and connected to its transporter, 503 otherwise
 *             (also while it connects at start and once it begins to stop)
 *   /metrics  the broker's Prometheus lines (calls, events, transit, process, OS)
 *
 * It listens before the broker starts, so that a process waiting for NATS is alive but not ready
 * instead of failing its liveness probe.
 */
export interface HealthServer {
  url: string;
  close(): Promise<void>;
}

export interface ReadinessChecks {
  /** Broker started (every local service started) and not stopping. */
  started: boolean;
  /** Connected to the transporter (true with no transporter: one process). */
  transporter: boolean;
}

export function readinessOf(broker: ServiceBroker): ReadinessChecks {
  return {
    started: broker.started === true && broker.stopping !== true,
    transporter: broker.transit ? broker.transit.connected === true : true,
  };
}

/** What `/metrics` answers; by default the broker's lines. */
export type MetricsSource = () => Promise<{ contentType: string; body: string }>;

const PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

export async function startHealthServer(
  broker: ServiceBroker,
  host: string,
  port: number,
  metrics: MetricsSource = async () => ({ contentType: PROMETHEUS_TEXT, body: brokerMetricsText(broker) }),
): Promise<HealthServer> {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://health.invalid").pathname;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "application/json" });
      res.end(JSON.stringify({ status: 405, title: "Method Not Allowed" }));
      return;
    }
    if (path === "/healthz") {
      json(res, 200, { status: "ok" });
    } else if (path === "/readyz") {
      const checks = readinessOf(broker);
      const ready = checks.started && checks.transporter;
      json(res, ready ? 200 : 503, { status: ready ? "ready" : "not-ready", checks });
    } else if (path === "/metrics") {
      // Prometheus' text exposition format, version 0.0.4 (what prom-client serves too).
      metrics().then(
        ({ contentType, body }) => {
          res.writeHead(200, { "content-type": contentType });
          res.end(req.method === "HEAD" ? undefined : body);
        },
        () => json(res, 500, { status: 500, title: "Internal Server Error", detail: "metrics unavailable" }),
      );
    } else {
      json(res, 404, { status: 404, title: "Not Found", detail: `no endpoint at ${path}` });
    }
  });
  // Probes are short requests: a kept-alive probe connection must not hold the close back.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${address.port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}
