import { createRequire } from "node:module";

/**
 * Prometheus metrics of the WebSocket hub, in the registry `/metrics` serves (prom-client as
 * prometheus-api-metrics resolves it: see api/metrics.ts). Registered once per process: several hubs
 * in one process (tests) share them.
 */
const require = createRequire(import.meta.url);

interface Gauge {
  inc(value?: number): void;
  dec(value?: number): void;
}
interface Counter {
  inc(labels: Record<string, string>, value?: number): void;
}
interface Histogram {
  observe(value: number): void;
}
interface PromClient {
  Histogram: new (opts: { name: string; help: string; buckets: number[] }) => Histogram;
  Gauge: new (opts: { name: string; help: string }) => Gauge;
  Counter: new (opts: { name: string; help: string; labelNames: string[] }) => Counter;
}

export interface WsMetrics {
  openSockets: Gauge;
  /** Frames sent, by message type. */
  messagesSent: Counter;
  /** Sockets closed by the server, by reason (slow, dead, rate, expired, disabled, too_big). */
  socketsDropped: Counter;
  /** Upgrades refused, by HTTP status. */
  upgradesRefused: Counter;
  /** Time to hand one broadcast to every subscriber of its run (this process's share of the latency). */
  fanOutSeconds: Histogram;
}

let metrics: WsMetrics | undefined;

export function wsMetrics(): WsMetrics {
  if (metrics) return metrics;
  const prom = createRequire(require.resolve("prometheus-api-metrics"))("prom-client") as PromClient;
  metrics = {
    openSockets: new prom.Gauge({ name: "proxima_ws_open_sockets", help: "Open WebSocket connections." }),
    messagesSent: new prom.Counter({
      name: "proxima_ws_messages_sent_total",
      help: "WebSocket messages sent, by type.",
      labelNames: ["type"],
    }),
    socketsDropped: new prom.Counter({
      name: "proxima_ws_sockets_dropped_total",
      help: "WebSocket connections closed by the server, by reason.",
      labelNames: ["reason"],
    }),
    upgradesRefused: new prom.Counter({
      name: "proxima_ws_upgrades_refused_total",
      help: "WebSocket upgrades answered with an HTTP error, by status.",
      labelNames: ["status"],
    }),
    fanOutSeconds: new prom.Histogram({
      name: "proxima_ws_fanout_seconds",
      help: "Time to hand one run broadcast to all of its WebSocket subscribers.",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
    }),
  };
  return metrics;
}
