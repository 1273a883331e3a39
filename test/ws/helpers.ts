import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Context, ServiceBroker, ServiceSchema } from "moleculer";
import WebSocket from "ws";
import { AuthStateCache } from "../../api/auth/auth-state-cache.ts";
import { WsHub, type WsHubOptions } from "../../api/ws/hub.ts";
import type { RunStatus } from "../../contracts/run-status.ts";
import type { PublicMetricPoint, RunMetricsEvent } from "../../contracts/runs.ts";
import { NotFoundError } from "../../lib/errors.ts";
import { call } from "../../services/actions.ts";
import { TEST_JWT_SECRET, type TestPlatform } from "../helpers/platform.ts";
import { DEFAULT_DEADLINE_MS } from "../helpers/wait.ts";

/**
 * What the WebSocket tests share: a client that queues what it receives, a probe of refused
 * upgrades, and a test-only `runs` service that answers `runs.visible` and `runs.metrics` from a
 * table the test fills (the WebSocket hub's only contract with the runs service), so that the hub's
 * behaviour is checked without training anything.
 */
export type Json = Record<string, unknown>;

export function wsUrl(httpUrl: string, query = ""): string {
  return `${httpUrl.replace(/^http/, "ws")}/api/v1/ws${query}`;
}

export class TestSocket {
  private readonly inbox: Json[] = [];
  private readonly waiters: { match: (m: Json) => boolean; resolve: (m: Json) => void }[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const message = JSON.parse(String(data)) as Json;
      const i = this.waiters.findIndex((w) => w.match(message));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(message);
      else this.inbox.push(message);
    });
    this.closed = new Promise((resolve) => {
      ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() }));
    });
  }

  /** Opens a socket; rejects with the HTTP status when the upgrade is refused. */
  static open(url: string, headers: Record<string, string> = {}): Promise<TestSocket> {
    const ws = new WebSocket(url, { headers });
    const socket = new TestSocket(ws);
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(socket));
      ws.once("unexpected-response", (_req, res) => reject(new UpgradeRefused(res.statusCode ?? 0)));
      ws.once("error", reject);
    });
  }

  static withToken(httpUrl: string, token: string): Promise<TestSocket> {
    return TestSocket.open(wsUrl(httpUrl), { authorization: `Bearer ${token}` });
  }

  send(message: unknown): void {
    this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** The next message (matching `match`, when given), in arrival order; fails after `timeoutMs`. */
  next(match: (m: Json) => boolean = () => true, timeoutMs = DEFAULT_DEADLINE_MS): Promise<Json> {
    const i = this.inbox.findIndex(match);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (m: Json) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no matching message within ${timeoutMs} ms; inbox: ${JSON.stringify(this.inbox)}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Messages received and not yet taken. */
  pending(): Json[] {
    return [...this.inbox];
  }

  async subscribe(runId: string): Promise<Json> {
    this.send({ type: "subscribe", runId });
    return this.next((m) => m["runId"] === runId && (m["type"] === "subscribed" || m["type"] === "error"));
  }

  close(): void {
    this.ws.terminate();
  }
}

export class UpgradeRefused extends Error {
  constructor(readonly status: number) {
    super(`upgrade refused with ${status}`);
  }
}

/** The HTTP status of an upgrade attempt: 101 when accepted (the socket is closed again at once). */
export async function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  try {
    const socket = await TestSocket.open(url, headers);
    socket.close();
    return 101;
  } catch (err) {
    if (err instanceof UpgradeRefused) return err.status;
    throw err;
  }
}

/**
 * A hub of its own (its own options: small limits, an injected clock, beats the test drives) on its
 * own HTTP server, in front of the platform's real broker and users service; closed at teardown.
 */
export async function startHub(
  platform: TestPlatform,
  t: { teardown(fn: () => Promise<void>): void },
  options: Partial<WsHubOptions>,
): Promise<{ hub: WsHub; url: string }> {
  const { broker, config, logger } = platform.platform;
  const hub = new WsHub(
    {
      broker,
      logger,
      jwtSecret: TEST_JWT_SECRET,
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      allowedOrigins: [],
      authStates: new AuthStateCache(
        (id) => call(broker, "users.authState", { id }),
        config.AUTH_STATE_CACHE_TTL_S * 1000,
      ),
    },
    options,
  );
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  hub.attach(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(async () => {
    await hub.close();
    await new Promise((resolve) => server.close(resolve));
  });
  return { hub, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

export interface TableRun {
  ownerId: string;
  status: RunStatus;
  points: PublicMetricPoint[];
}

/**
 * The runs the test service knows, by id. When `gate` is set, `runs.metrics` tells `entered` and
 * then waits for the gate, so that a test can act while the hub is between its two calls.
 */
export interface RunTable {
  runs: Map<string, TableRun>;
  gate?: { entered(runId: string): void; open: Promise<void> };
}

/**
 * A `runs` service with the two actions the hub calls, and the same visibility rule as the real one
 * (the owner or an admin; anyone else gets the 404 the real service gives).
 */
export function tableRunsService(table: RunTable): ServiceSchema {
  const visible = (p: { runId: string; userId: string; role: string }) => {
    const run = table.runs.get(p.runId);
    if (!run || (run.ownerId !== p.userId && p.role !== "admin")) throw new NotFoundError("run");
    return run;
  };
  return {
    name: "runs",
    actions: {
      visible: {
        visibility: "public",
        handler(ctx: Context<{ runId: string; userId: string; role: string }>) {
          const run = visible(ctx.params);
          return { ownerId: run.ownerId, status: run.status, iteration: run.points.at(-1)?.iteration ?? 0 };
        },
      },
      metrics: {
        visibility: "public",
        async handler(
          ctx: Context<{
            runId: string;
            userId: string;
            role: string;
            fromIteration?: number;
            maxPoints?: number;
          }>,
        ) {
          const run = visible(ctx.params);
          if (table.gate) {
            table.gate.entered(ctx.params.runId);
            await table.gate.open;
          }
          const from = run.points.filter((p) => p.iteration >= (ctx.params.fromIteration ?? 0));
          return { runId: ctx.params.runId, points: ctx.params.maxPoints === 1 ? from.slice(-1) : from };
        },
      },
    },
  };
}

export async function addTableRunsService(broker: ServiceBroker, table: RunTable): Promise<void> {
  broker.createService(tableRunsService(table));
  await broker.waitForServices(["runs"], 10_000);
}

export function point(iteration: number, extra: Record<string, number> = {}): PublicMetricPoint {
  return {
    iteration,
    globalStep: iteration * 512,
    wallTime: new Date().toISOString(),
    metrics: { "charts/episodic_return": iteration * 10, ...extra },
  };
}

export function metricsEvent(runId: string, ownerId: string, iteration: number): RunMetricsEvent {
  const p = point(iteration);
  return { runId, ownerId, iteration, globalStep: p.globalStep, metrics: p.metrics };
}
