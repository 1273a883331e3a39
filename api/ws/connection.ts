import WebSocket from "ws";
import type { RunStatus } from "../../contracts/run-status.ts";
import type { ServerMessage } from "../../contracts/ws.ts";
import { TokenBucket } from "./token-bucket.ts";
import type { WsSession } from "./upgrade-auth.ts";

/**
 * One open socket: who is behind it, what it subscribed to, its inbound rate budget, and the
 * liveness flag of the heartbeat. Outbound frames are dropped with the socket rather than queued
 * without bound when the peer does not read (`bufferedAmount` over a threshold).
 */
export interface Subscription {
  runId: string;
  /** Known once `runs.visible` has answered; null while the subscription is being set up. */
  ownerId: string | null;
  status: RunStatus | null;
  /**
   * Live frames that arrived while the latest stored point was being fetched; flushed after it, so
   * that a subscriber sees the latest point first and then live ones, in order. Null once live.
   */
  backlog: BacklogFrame[] | null;
  /** The iteration of the stored point sent first: live copies of it (or older) are skipped. */
  seenUpTo: number | null;
}

/** A frame serialized once for every subscriber; `iteration` for metrics, `status` for status. */
export interface BacklogFrame {
  /** The UTF-8 JSON of the message, sent as a text frame. */
  bytes: Buffer;
  type: "metrics" | "status";
  iteration?: number;
  status?: RunStatus;
}

export type DropReason = "slow" | "dead" | "rate" | "expired" | "disabled" | "shutdown";

export interface ConnectionLimits {
  maxBufferedBytes: number;
  rateCapacity: number;
  ratePerSecond: number;
}

export class WsConnection {
  readonly subscriptions = new Map<string, Subscription>();
  /** Cleared at each heartbeat, set by the pong: a socket still false at the next beat is dead. */
  alive = true;
  closed = false;
  private readonly bucket: TokenBucket;
  private expiryTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly ws: WebSocket,
    public session: WsSession,
    private readonly limits: ConnectionLimits,
    /** Called once when the server gives up on the socket (the hub unindexes it and counts why). */
    private readonly onDrop: (conn: WsConnection, reason: DropReason) => void,
  ) {
    this.bucket = new TokenBucket(limits.rateCapacity, limits.ratePerSecond);
  }

  /** Closes the socket when the access token behind it expires. */
  armExpiry(closeCode: number): void {
    // setTimeout holds at most 2^31-1 ms; tokens live an hour at most, so the clamp never bites.
    const delay = Math.min(Math.max(0, this.session.expiresAt - Date.now()), 2 ** 31 - 1);
    this.expiryTimer = setTimeout(() => this.close(closeCode, "access token expired", "expired"), delay);
    this.expiryTimer.unref();
  }

  /** One inbound message's worth of the rate budget; false when spent. */
  takeMessageToken(): boolean {
    return this.bucket.take();
  }

  send(message: ServerMessage): boolean {
    return this.sendFrame(Buffer.from(JSON.stringify(message), "utf8"));
  }

  /** Sends a text frame; a reader too slow to keep the buffer under its cap is dropped. */
  sendFrame(bytes: Buffer): boolean {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return false;
    if (this.ws.bufferedAmount > this.limits.maxBufferedBytes) {
      this.terminate("slow");
      return false;
    }
    this.ws.send(bytes, { binary: false });
    return true;
  }

  /** A close handshake with a code and reason the client can act on. */
  close(code: number, reason: string, why: DropReason): void {
    if (this.closed) return;
    this.markClosed(why);
    this.ws.close(code, reason);
  }

  /** No handshake: for peers that do not read (slow) or do not answer (dead). */
  terminate(why: DropReason): void {
    if (this.closed) return;
    this.markClosed(why);
    this.ws.terminate();
  }

  /** The socket closed on its own (the client left); nothing to count. */
  released(): void {
    this.closed = true;
    clearTimeout(this.expiryTimer);
  }

  private markClosed(why: DropReason): void {
    this.closed = true;
    clearTimeout(this.expiryTimer);
    this.onDrop(this, why);
  }
}
