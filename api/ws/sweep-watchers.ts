import type { ServiceBroker } from "moleculer";
import type { SweepStatus } from "../../contracts/sweep-status.ts";
import type { SweepStatusEvent, SweepTrialEvent, TrialUpdate } from "../../contracts/sweeps.ts";
import type { ServerMessage, SweepClientMessage } from "../../contracts/ws.ts";
import type { Logger } from "../../lib/logger.ts";
import { call } from "../../services/actions.ts";
import type { WsConnection } from "./connection.ts";

interface SweepSub {
  ownerId: string | null;
  /** Live frames that arrived while the snapshot was being read; flushed after it. Null once live. */
  backlog: Buffer[] | null;
}

/**
 * The sweep half of the WebSocket hub: which sockets watch which sweep. A subscriber gets the sweep's
 * status and every trial as it stands (from `sweeps.visible`, the database), then each
 * `sweeps.trial.updated` and `sweeps.status.changed` broadcast. Another user's sweep is not found.
 */
export class SweepWatchers {
  private readonly bySweep = new Map<string, Set<WsConnection>>();
  private readonly subs = new WeakMap<WsConnection, Map<string, SweepSub>>();

  constructor(
    private readonly broker: ServiceBroker,
    private readonly logger: Logger,
    private readonly maxPerSocket: number,
  ) {}

  handle(conn: WsConnection, message: SweepClientMessage): void {
    if (message.type === "unsubscribe") {
      if (!this.subsOf(conn).has(message.sweepId)) {
        conn.send({
          type: "error",
          code: "not_subscribed",
          message: "not subscribed to this sweep",
          sweepId: message.sweepId,
        });
        return;
      }
      this.remove(conn, message.sweepId);
      conn.send({ type: "unsubscribed", sweepId: message.sweepId });
      return;
    }
    this.subscribe(conn, message.sweepId).catch((err: unknown) =>
      this.logger.error({ err, sweepId: message.sweepId }, "WebSocket sweep subscription failed"),
    );
  }

  private subsOf(conn: WsConnection): Map<string, SweepSub> {
    let m = this.subs.get(conn);
    if (!m) {
      m = new Map();
      this.subs.set(conn, m);
    }
    return m;
  }

  private async subscribe(conn: WsConnection, sweepId: string): Promise<void> {
    const subs = this.subsOf(conn);
    if (subs.has(sweepId)) return;
    if (subs.size >= this.maxPerSocket) {
      conn.send({
        type: "error",
        code: "too_many_subscriptions",
        message: `at most ${this.maxPerSocket} sweep subscriptions per socket`,
        sweepId,
      });
      return;
    }
    const sub: SweepSub = { ownerId: null, backlog: [] };
    subs.set(sweepId, sub);
    let set = this.bySweep.get(sweepId);
    if (!set) {
      set = new Set();
      this.bySweep.set(sweepId, set);
    }
    set.add(conn);
    const { userId, role } = conn.session;
    let seen: { ownerId: string; status: SweepStatus; trials: TrialUpdate[] };
    try {
      seen = await call(this.broker, "sweeps.visible", { sweepId, userId, role });
    } catch (err) {
      if (subs.get(sweepId) !== sub) return;
      this.remove(conn, sweepId);
      const notFound = (err as { code?: unknown }).code === 404;
      conn.send(
        notFound
          ? { type: "error", code: "not_found", message: "sweep not found", sweepId }
          : {
              type: "error",
              code: "unavailable",
              message: "the sweeps service is unavailable; try again",
              sweepId,
            },
      );
      return;
    }
    if (conn.closed || subs.get(sweepId) !== sub) return;
    sub.ownerId = seen.ownerId;
    conn.send({ type: "subscribed", sweepId, status: seen.status });
    for (const trial of seen.trials) conn.send({ type: "trial", sweepId, trial: slim(trial) });
    const backlog = sub.backlog ?? [];
    sub.backlog = null;
    for (const bytes of backlog) conn.sendFrame(bytes);
  }

  publishTrial(event: SweepTrialEvent): void {
    this.fanOut(event.sweepId, { type: "trial", sweepId: event.sweepId, trial: event.trial });
  }

  publishStatus(event: SweepStatusEvent): void {
    this.fanOut(event.sweepId, { type: "status", sweepId: event.sweepId, status: event.status });
  }

  /** The socket is gone: unindex its sweep subscriptions. */
  forget(conn: WsConnection): void {
    for (const sweepId of this.subs.get(conn)?.keys() ?? []) this.remove(conn, sweepId);
  }

  private fanOut(sweepId: string, message: ServerMessage): void {
    const watchers = this.bySweep.get(sweepId);
    if (!watchers) return;
    const bytes = Buffer.from(JSON.stringify(message), "utf8");
    for (const conn of watchers) {
      const sub = this.subs.get(conn)?.get(sweepId);
      if (!sub) continue;
      if (sub.backlog) sub.backlog.push(bytes);
      else conn.sendFrame(bytes);
    }
  }

  private remove(conn: WsConnection, sweepId: string): void {
    this.subs.get(conn)?.delete(sweepId);
    const set = this.bySweep.get(sweepId);
    set?.delete(conn);
    if (set?.size === 0) this.bySweep.delete(sweepId);
  }
}

/** The live-update shape of a trial (the snapshot comes as the full public trial). */
function slim(t: TrialUpdate): TrialUpdate {
  return {
    id: t.id,
    index: t.index,
    status: t.status,
    runId: t.runId,
    steps: t.steps,
    iteration: t.iteration,
    lastMetric: t.lastMetric,
    finalMetric: t.finalMetric,
    rungs: t.rungs,
  };
}
