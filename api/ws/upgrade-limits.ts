import type { IncomingMessage } from "node:http";
import { TokenBucket } from "./token-bucket.ts";
import type { Refusal } from "./upgrade-auth.ts";

/**
 * Per-user and per-address limits on WebSocket upgrades, checked before the upgrade (so a refusal is
 * a plain HTTP 429 that names the limit and its value, never an open socket). Without them one
 * learner's token could hold every socket of the process-wide cap and so shut everyone else out
 * (issue 15, finding 5).
 *
 * - open sockets per user: at most `maxSocketsPerUser` on this API node, counted from the moment an
 *   upgrade is admitted (not when its handshake completes), so a burst of parallel upgrades cannot
 *   all slip under the cap;
 * - upgrades per user: a token bucket of `upgradesPerMinutePerUser`, taken by every authenticated
 *   attempt, admitted or not;
 * - failed authentications per client address: a token bucket of `failedUpgradesPerMinutePerIp`;
 *   once spent, that address's upgrades are refused before any token is verified or ticket redeemed.
 *
 * The counters live in this process: they guard this node's sockets, as the process-wide cap does.
 */
export interface UpgradeLimitOptions {
  maxSocketsPerUser: number;
  upgradesPerMinutePerUser: number;
  failedUpgradesPerMinutePerIp: number;
  /** Use the leftmost X-Forwarded-For address (as Koa's `ctx.ip` with `app.proxy`), behind an ingress. */
  trustProxy: boolean;
  /** Milliseconds, monotonic; injectable for tests. */
  now: () => number;
}

/** The setting each limit is configured by: the refusal names it, so ops know which one to raise. */
export const WS_LIMIT_SETTINGS = {
  socketsPerUser: "WS_MAX_CONNECTIONS_PER_USER",
  upgradesPerUser: "WS_UPGRADES_PER_MIN_PER_USER",
  failuresPerIp: "WS_FAILED_UPGRADES_PER_MIN_PER_IP",
} as const;

export class UpgradeLimits {
  private readonly upgradeBuckets = new Map<string, TokenBucket>();
  private readonly failureBuckets = new Map<string, TokenBucket>();
  /** Sockets admitted per user and not yet gone: open ones and those still in their handshake. */
  private readonly held = new Map<string, number>();

  constructor(private readonly options: UpgradeLimitOptions) {}

  clientAddress(req: IncomingMessage): string {
    if (this.options.trustProxy) {
      const forwarded = req.headers["x-forwarded-for"];
      const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(",")[0]?.trim();
      if (first) return first;
    }
    return req.socket.remoteAddress ?? "unknown";
  }

  /** A refusal when this address has failed authentication too often lately. */
  checkAddress(ip: string): Refusal | undefined {
    const bucket = this.failureBuckets.get(ip);
    if (!bucket || bucket.hasToken()) return undefined;
    const limit = this.options.failedUpgradesPerMinutePerIp;
    return tooMany(
      `too many failed WebSocket authentications from this address: at most ${limit} per minute`,
      WS_LIMIT_SETTINGS.failuresPerIp,
      limit,
      bucket.secondsUntilToken(),
    );
  }

  /** An upgrade from this address failed to authenticate. */
  failed(ip: string): void {
    const perMinute = this.options.failedUpgradesPerMinutePerIp;
    bucketOf(this.failureBuckets, ip, perMinute, this.options.now).take();
  }

  /**
   * Admits an authenticated upgrade of `userId` (it then holds one of the user's slots until
   * `release`), or says which limit refuses it.
   */
  admit(userId: string): Refusal | undefined {
    const perMinute = this.options.upgradesPerMinutePerUser;
    const bucket = bucketOf(this.upgradeBuckets, userId, perMinute, this.options.now);
    if (!bucket.take()) {
      return tooMany(
        `too many WebSocket upgrades for this user: at most ${perMinute} per minute`,
        WS_LIMIT_SETTINGS.upgradesPerUser,
        perMinute,
        bucket.secondsUntilToken(),
      );
    }
    const held = this.held.get(userId) ?? 0;
    const max = this.options.maxSocketsPerUser;
    if (held >= max) {
      // No time frees a slot, only a close: Retry-After is a polite guess, not a promise.
      return tooMany(
        `too many open WebSockets for this user on this API node: at most ${max}; close one first`,
        WS_LIMIT_SETTINGS.socketsPerUser,
        max,
        60,
      );
    }
    this.held.set(userId, held + 1);
    return undefined;
  }

  /** A socket admitted by `admit` closed, or its handshake never completed. */
  release(userId: string): void {
    const held = (this.held.get(userId) ?? 0) - 1;
    if (held > 0) this.held.set(userId, held);
    else this.held.delete(userId);
  }

  heldBy(userId: string): number {
    return this.held.get(userId) ?? 0;
  }

  /** Forgets buckets that have refilled: they would say nothing a fresh one does not (bounded memory). */
  prune(): void {
    for (const buckets of [this.upgradeBuckets, this.failureBuckets]) {
      for (const [key, bucket] of buckets) if (bucket.isFull()) buckets.delete(key);
    }
  }
}

/**
 * Buckets kept per map at most: addresses are cheap to an attacker (an IPv6 prefix holds billions),
 * and the heartbeat's prune only drops refilled ones. Beyond, the oldest bucket goes: it forgets one
 * key's history rather than letting memory grow.
 */
export const MAX_TRACKED_KEYS = 100_000;

function bucketOf(
  buckets: Map<string, TokenBucket>,
  key: string,
  perMinute: number,
  now: () => number,
): TokenBucket {
  let bucket = buckets.get(key);
  if (!bucket) {
    if (buckets.size >= MAX_TRACKED_KEYS) {
      const oldest = buckets.keys().next().value;
      if (oldest !== undefined) buckets.delete(oldest);
    }
    // A burst of a whole minute's allowance, refilled evenly over the minute.
    bucket = new TokenBucket(perMinute, perMinute / 60, now);
    buckets.set(key, bucket);
  }
  return bucket;
}

function tooMany(detail: string, limit: string, value: number, retryAfterSeconds: number): Refusal {
  return {
    status: 429,
    type: "RATE_LIMITED",
    detail,
    data: { limit, value, retryAfter: Math.max(1, Math.ceil(retryAfterSeconds)) },
  };
}
