import { EventEmitter } from "node:events";
import type http from "node:http";
import type { Duplex } from "node:stream";
import type { ServiceBroker } from "moleculer";
import { type WebSocket, WebSocketServer } from "ws";
import type { RunStatus } from "../../contracts/run-status.ts";
import type { PublicMetricPoint, RunMetricsEvent, RunStatusEvent } from "../../contracts/runs.ts";
import type { SweepStatusEvent, SweepTrialEvent } from "../../contracts/sweeps.ts";
import { CLOSE, type ServerMessage } from "../../contracts/ws.ts";
import type { Logger } from "../../lib/logger.ts";
import type { AuthStateCache } from "../auth/auth-state-cache.ts";
import { type BacklogFrame, type DropReason, type Subscription, WsConnection } from "./connection.ts";
import { parseClientMessage } from "./parse-message.ts";
import { SweepWatchers } from "./sweep-watchers.ts";
import {
  authenticateUpgrade,
  type Refusal,
  refusalOf,
  type UpgradeAuthDeps,
  type WsSession,
  writeRefusal,
} from "./upgrade-auth.ts";
import { UpgradeLimits } from "./upgrade-limits.ts";
import { wsMetrics } from "./ws-metrics.ts";

/**
 * The WebSocket hub of one API process: it authenticates upgrades on `path`, keeps an index of
 * which sockets watch which run, and forwards the `metrics.run.updated` / `runs.status.changed`
 * broadcasts (every API node receives them) to its own subscribers. Each frame is serialized once
 * per event, whatever the number of subscribers.
 */
export interface WsHubOptions {
  path: string;
  /** Largest inbound frame; larger ones close the socket with 1009. */
  maxPayloadBytes: number;
  maxSubscriptionsPerSocket: number;
  /** Inbound token bucket: a burst of `rateCapacity` messages, `ratePerSecond` sustained. */
  rateCapacity: number;
  ratePerSecond: number;
  /** A socket whose unsent bytes exceed this is dropped, not buffered further. */
  maxBufferedBytes: number;
  /** Ping period; a peer that has not answered the previous ping by the next one is terminated. */
  heartbeatMs: number;
  /** Open sockets per process; upgrades beyond are refused with 503. */
  maxSockets: number;
  /** Live frames kept per subscription while its latest point is fetched (oldest dropped beyond). */
  maxBacklog: number;
  /** How long a shutdown waits for close handshakes before cutting sockets. */
  closeGraceMs: number;
  /** Open sockets per user on this process; upgrades beyond are refused with 429 (upgrade-limits.ts). */
  maxSocketsPerUser: number;
  /** Authenticated upgrades per user per minute (429 beyond). */
  upgradesPerMinutePerUser: number;
  /** Failed authentications per client address per minute; beyond, its upgrades get 429 unverified. */
  failedUpgradesPerMinutePerIp: number;
  /** Client address from X-Forwarded-For (TRUST_PROXY). */
  trustProxy: boolean;
  /** Monotonic milliseconds for the upgrade rate limits; injectable for tests. */
  now: () => number;
}

export const DEFAULT_WS_OPTIONS: WsHubOptions = {
  path: "/api/v1/ws",
  maxPayloadBytes: 4 * 1024,
  maxSubscriptionsPerSocket: 32,
  rateCapacity: 30,
  ratePerSecond: 10,
  maxBufferedBytes: 1024 * 1024,
  heartbeatMs: 30_000,
  maxSockets: 10_000,
  maxBacklog: 256,
  closeGraceMs: 1_000,
  maxSocketsPerUser: 20,
  upgradesPerMinutePerUser: 60,
  failedUpgradesPerMinutePerIp: 30,
  trustProxy: false,
  now: () => performance.now(),
};

export interface WsHubDeps extends UpgradeAuthDeps {
  broker: ServiceBroker;
  authStates: AuthStateCache;
  logger: Logger;
}

export interface WsHubStats {
  openSockets: number;
  /** Frames sent since start. */
  sent: number;
  dropped: Record<DropReason, number>;
}

interface VisibleRun {
  ownerId: string;
  status: RunStatus;
  iteration: number;
}

export class WsHub {
  readonly options: WsHubOptions;
  /** `closed` (userId): a socket is gone and its user's slot free again; what tests wait on. */
  readonly events = new EventEmitter<{ closed: [userId: string] }>();
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<WsConnection>();
  private readonly byRun = new Map<string, Set<WsConnection>>();
  private readonly byUser = new Map<string, Set<WsConnection>>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly metrics = wsMetrics();
  private readonly counts: WsHubStats = {
    openSockets: 0,
    sent: 0,
    dropped: { slow: 0, dead: 0, rate: 0, expired: 0, disabled: 0, shutdown: 0 },
  };
  private closing: Promise<void> | undefined;
  /** Sweep subscriptions (`{type:"subscribe", sweepId}`): api/ws/sweep-watchers.ts. */
  private readonly sweeps: SweepWatchers;
  private readonly limits: UpgradeLimits;

  constructor(
    private readonly deps: WsHubDeps,
    options: Partial<WsHubOptions> = {},
  ) {
    this.options = { ...DEFAULT_WS_OPTIONS, ...options };
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: this.options.maxPayloadBytes,
      // Compression would cost a zlib context per socket, and metric frames are small.
      perMessageDeflate: false,
    });
    this.limits = new UpgradeLimits(this.options);
    this.sweeps = new SweepWatchers(deps.broker, deps.logger, this.options.maxSubscriptionsPerSocket);
    this.heartbeat = setInterval(() => this.beat(), this.options.heartbeatMs);
    this.heartbeat.unref();
  }

  /** Takes over the HTTP server's upgrade requests (Koa never sees them). */
  attach(server: http.Server): void {
    server.on("upgrade", this.handleUpgrade);
  }

  stats(): WsHubStats {
    return { ...this.counts, openSockets: this.connections.size, dropped: { ...this.counts.dropped } };
  }

  readonly handleUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    // A peer that resets while we authenticate must not take the process down with an 'error'.
    socket.on("error", () => {});
    const url = new URL(req.url ?? "/", "http://upgrade.invalid");
    const refuse = (refusal: Refusal) => {
      this.metrics.upgradesRefused.inc({ status: String(refusal.status) });
      writeRefusal(socket, url.pathname, refusal);
    };
    if (url.pathname !== this.options.path) {
      refuse({ status: 404, type: "NOT_FOUND", detail: `no WebSocket endpoint at ${url.pathname}` });
      return;
    }
    if (this.closing || this.connections.size >= this.options.maxSockets) {
      refuse({ status: 503, type: "SERVICE_UNAVAILABLE", detail: "this API node takes no more WebSockets" });
      return;
    }
    const ip = this.limits.clientAddress(req);
    const blocked = this.limits.checkAddress(ip);
    if (blocked) {
      refuse(blocked);
      return;
    }
    authenticateUpgrade(req, url, this.deps).then(
      (session) => {
        if (socket.destroyed) return;
        const limited = this.limits.admit(session.userId);
        if (limited) {
          refuse(limited);
          return;
        }
        // The slot is held from here: freed when the socket closes, or now if the handshake fails.
        let accepted = false;
        socket.once("close", () => {
          if (!accepted) this.limits.release(session.userId);
        });
        this.wss.handleUpgrade(req, socket, head, (ws) => {
          accepted = true;
          this.accept(ws, session);
        });
      },
      (err: unknown) => {
        const refusal = refusalOf(err);
        if (refusal.status >= 500) this.deps.logger.error({ err }, "WebSocket upgrade failed");
        else if (refusal.status === 401 || refusal.status === 403) this.limits.failed(ip);
        refuse(refusal);
      },
    );
  };

  /** A `metrics.run.updated` broadcast: one serialization, one frame per subscriber. */
  publishMetrics(event: RunMetricsEvent): void {
    const bytes = encodeFrame({
      type: "metrics",
      runId: event.runId,
      iteration: event.iteration,
      globalStep: event.globalStep,
      metrics: event.metrics,
    });
    this.fanOut(event.runId, { iteration: event.iteration, bytes, type: "metrics" });
  }

  /** A `runs.status.changed` broadcast. */
  publishStatus(event: RunStatusEvent): void {
    const bytes = encodeFrame({ type: "status", runId: event.runId, status: event.status });
    this.fanOut(event.runId, { bytes, type: "status", status: event.status });
  }

  /** `sweeps.trial.updated` / `sweeps.status.changed` broadcasts, to the sweep's subscribers. */
  publishSweepTrial(event: SweepTrialEvent): void {
    this.sweeps.publishTrial(event);
  }

  publishSweepStatus(event: SweepStatusEvent): void {
    this.sweeps.publishStatus(event);
  }

  /**
   * A message for one user, on every socket of theirs on this node (no subscription needed): e.g. a
   * `submissions.graded` broadcast. Returns the number of sockets it was sent to.
   */
  publishToUser(userId: string, message: ServerMessage): number {
    const sockets = this.byUser.get(userId);
    if (!sockets) return 0;
    const bytes = encodeFrame(message);
    let sent = 0;
    for (const conn of sockets) if (!conn.closed && conn.sendFrame(bytes)) sent += 1;
    this.counted(message.type, sent);
    return sent;
  }

  /**
   * `users.changed`: the account may have been disabled (its sockets close) or changed role (runs of
   * others it no longer may see are unsubscribed). The state comes through the process's cache,
   * which the API service invalidates for this user before calling here.
   */
  async userChanged(userId: string): Promise<void> {
    if (!this.byUser.has(userId)) return;
    let state: Awaited<ReturnType<AuthStateCache["get"]>>;
    try {
      state = await this.deps.authStates.get(userId);
    } catch (err) {
      // The users service is unreachable: the next heartbeat asks again.
      this.deps.logger.warn({ err, userId }, "could not re-check a WebSocket user");
      return;
    }
    for (const conn of [...(this.byUser.get(userId) ?? [])]) {
      if (!state.exists || state.disabled || state.role === null) {
        conn.close(CLOSE.accountDisabled, "account disabled", "disabled");
        continue;
      }
      if (conn.session.role === state.role) continue;
      conn.session = { ...conn.session, role: state.role };
      if (state.role === "admin") continue;
      for (const sub of [...conn.subscriptions.values()]) {
        if (sub.ownerId !== null && sub.ownerId !== userId) {
          this.removeSubscription(conn, sub.runId);
          conn.send({ type: "error", code: "not_found", message: "run not found", runId: sub.runId });
        }
      }
    }
  }

  /** Closes every socket (1001), waits up to `closeGraceMs` for the handshakes, then cuts the rest. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.heartbeat);
      const open = [...this.connections];
      const closed = open.map(
        (conn) => new Promise<void>((resolve) => conn.ws.once("close", () => resolve())),
      );
      for (const conn of open) conn.close(CLOSE.goingAway, "server shutting down", "shutdown");
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(closed),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.options.closeGraceMs);
        }),
      ]);
      clearTimeout(timer);
      for (const conn of open) conn.ws.terminate();
      this.wss.close();
    })();
    return this.closing;
  }

  private accept(ws: WebSocket, session: WsSession): void {
    const conn = new WsConnection(ws, session, this.options, (c, why) => this.dropped(c, why));
    this.connections.add(conn);
    addTo(this.byUser, session.userId, conn);
    this.metrics.openSockets.inc();
    ws.on("pong", () => {
      conn.alive = true;
    });
    ws.on("message", (data, isBinary) => this.onMessage(conn, data, isBinary));
    // ws reports protocol errors (an oversized frame: it closes with 1009 itself) and then closes.
    ws.on("error", (err) => this.deps.logger.debug({ err: err.message }, "WebSocket error"));
    ws.on("close", () => {
      conn.released();
      this.forget(conn);
    });
    conn.armExpiry(CLOSE.tokenExpired);
  }

  private onMessage(
    conn: WsConnection,
    data: Parameters<typeof parseClientMessage>[0],
    isBinary: boolean,
  ): void {
    if (conn.closed) return;
    if (!conn.takeMessageToken()) {
      conn.close(CLOSE.policyViolation, "message rate exceeded", "rate");
      return;
    }
    const parsed = parseClientMessage(data, isBinary);
    if (!parsed.ok) {
      conn.send({ type: "error", code: "bad_message", message: parsed.error });
      return;
    }
    const { message } = parsed;
    if ("sweepId" in message) {
      this.sweeps.handle(conn, message);
      return;
    }
    if (message.type === "subscribe") {
      this.subscribe(conn, message.runId).catch((err: unknown) =>
        this.deps.logger.error({ err, runId: message.runId }, "WebSocket subscription failed"),
      );
    } else this.unsubscribe(conn, message.runId);
  }

  private async subscribe(conn: WsConnection, runId: string): Promise<void> {
    const existing = conn.subscriptions.get(runId);
    if (existing) {
      // Idempotent: an established subscription is confirmed again; a pending one will answer itself.
      if (!existing.backlog && existing.status)
        conn.send({ type: "subscribed", runId, status: existing.status });
      return;
    }
    if (conn.subscriptions.size >= this.options.maxSubscriptionsPerSocket) {
      conn.send({
        type: "error",
        code: "too_many_subscriptions",
        message: `at most ${this.options.maxSubscriptionsPerSocket} subscriptions per socket`,
        runId,
      });
      return;
    }
    // Indexed before the service calls, so that live points arriving meanwhile land in the backlog.
    const sub: Subscription = { runId, ownerId: null, status: null, backlog: [], seenUpTo: null };
    conn.subscriptions.set(runId, sub);
    addTo(this.byRun, runId, conn);

    const { userId, role } = conn.session;
    let run: VisibleRun;
    try {
      run = await this.deps.broker.call<VisibleRun, object>("runs.visible", { runId, userId, role });
      // The role may have changed while the call was out.
      if (run.ownerId !== userId && conn.session.role !== "admin") throw new NotVisible();
    } catch (err) {
      if (conn.subscriptions.get(runId) !== sub) return;
      this.removeSubscription(conn, runId);
      const notFound = err instanceof NotVisible || (err as { code?: unknown }).code === 404;
      if (!notFound)
        this.deps.logger.warn({ err, runId }, "runs.visible failed for a WebSocket subscription");
      conn.send(
        notFound
          ? { type: "error", code: "not_found", message: "run not found", runId }
          : {
              type: "error",
              code: "unavailable",
              message: "the runs service is unavailable; try again",
              runId,
            },
      );
      return;
    }
    const latest = await this.latestPoint(runId, conn.session, run.iteration);
    if (conn.closed || conn.subscriptions.get(runId) !== sub) return;

    sub.ownerId = run.ownerId;
    sub.status = run.status;
    conn.send({ type: "subscribed", runId, status: run.status });
    if (latest) {
      conn.send({
        type: "metrics",
        runId,
        iteration: latest.iteration,
        globalStep: latest.globalStep,
        metrics: latest.metrics,
      });
    }
    const backlog = sub.backlog ?? [];
    sub.backlog = null;
    // The runs service stores a point before it broadcasts it: the broadcast of the point just read
    // may be in the backlog or still on its way. Either copy is skipped.
    sub.seenUpTo = latest?.iteration ?? null;
    for (const frame of backlog) {
      if (conn.closed) return;
      if (this.deliver(conn, sub, frame)) this.counted(frame.type, 1);
    }
  }

  /** The run's latest stored point; a failure here costs the subscriber only its first point. */
  private async latestPoint(
    runId: string,
    session: WsSession,
    iteration: number,
  ): Promise<PublicMetricPoint | undefined> {
    try {
      const history = await this.deps.broker.call<{ points: PublicMetricPoint[] }, object>("runs.metrics", {
        runId,
        userId: session.userId,
        role: session.role,
        // The run row counts iterations done; its latest point is numbered that count or one less.
        fromIteration: Math.max(0, iteration - 1),
        maxPoints: 1,
      });
      return history.points.at(-1);
    } catch (err) {
      this.deps.logger.warn({ err, runId }, "could not read a run's latest metric point");
      return undefined;
    }
  }

  private unsubscribe(conn: WsConnection, runId: string): void {
    if (!conn.subscriptions.has(runId)) {
      conn.send({ type: "error", code: "not_subscribed", message: "not subscribed to this run", runId });
      return;
    }
    this.removeSubscription(conn, runId);
    conn.send({ type: "unsubscribed", runId });
  }

  private fanOut(runId: string, frame: BacklogFrame): void {
    const watchers = this.byRun.get(runId);
    if (!watchers) return;
    const started = performance.now();
    let sent = 0;
    for (const conn of watchers) {
      const sub = conn.subscriptions.get(runId);
      if (!sub) continue;
      if (sub.backlog) {
        if (sub.backlog.length >= this.options.maxBacklog) sub.backlog.shift();
        sub.backlog.push(frame);
      } else if (this.deliver(conn, sub, frame)) {
        sent += 1;
      }
    }
    this.counted(frame.type, sent);
    this.metrics.fanOutSeconds.observe((performance.now() - started) / 1000);
  }

  /** Sends a live frame unless it repeats the stored point the subscription started with; true if sent. */
  private deliver(conn: WsConnection, sub: Subscription, frame: BacklogFrame): boolean {
    if (frame.iteration !== undefined && sub.seenUpTo !== null) {
      if (frame.iteration <= sub.seenUpTo) return false;
      // Past the first point: a later replay of older iterations (a resumed run) is news again.
      sub.seenUpTo = null;
    }
    if (frame.status) sub.status = frame.status;
    return conn.sendFrame(frame.bytes);
  }

  private counted(type: string, n: number): void {
    if (n === 0) return;
    this.counts.sent += n;
    this.metrics.messagesSent.inc({ type }, n);
  }

  /**
   * One heartbeat: what the interval runs every `heartbeatMs`. Public so that a test can beat the
   * heart itself (with an interval too long to fire) and check each beat's effect without a clock.
   */
  beat(): void {
    for (const conn of this.connections) {
      if (!conn.alive) {
        conn.terminate("dead");
        continue;
      }
      conn.alive = false;
      conn.ws.ping();
    }
    // A lost users.changed event must not keep a disabled account connected: re-check each user,
    // through the cache (one service call per user per cache period at most).
    for (const userId of this.byUser.keys()) void this.userChanged(userId);
    this.limits.prune();
  }

  private removeSubscription(conn: WsConnection, runId: string): void {
    conn.subscriptions.delete(runId);
    removeFrom(this.byRun, runId, conn);
  }

  /** The server gave up on a socket: unindex it at once (its 'close' event may come later). */
  private dropped(conn: WsConnection, why: DropReason): void {
    this.counts.dropped[why] += 1;
    this.metrics.socketsDropped.inc({ reason: why });
    this.forget(conn);
  }

  private forget(conn: WsConnection): void {
    if (!this.connections.delete(conn)) return;
    this.limits.release(conn.session.userId);
    this.metrics.openSockets.dec();
    for (const runId of conn.subscriptions.keys()) removeFrom(this.byRun, runId, conn);
    removeFrom(this.byUser, conn.session.userId, conn);
    this.sweeps.forget(conn);
    this.events.emit("closed", conn.session.userId);
  }
}

class NotVisible extends Error {}

/** UTF-8 once per event: every subscriber's send then shares the same bytes. */
function encodeFrame(message: ServerMessage): Buffer {
  return Buffer.from(JSON.stringify(message), "utf8");
}

function addTo<K, V>(index: Map<K, Set<V>>, key: K, value: V): void {
  let set = index.get(key);
  if (!set) {
    set = new Set();
    index.set(key, set);
  }
  set.add(value);
}

function removeFrom<K, V>(index: Map<K, Set<V>>, key: K, value: V): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) index.delete(key);
}
