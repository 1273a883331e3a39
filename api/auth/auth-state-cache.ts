import type { AuthState } from "../../services/users/schemas.ts";

/**
 * A short-lived, per-process cache of `users.authState`, so that an authenticated request does not
 * cost a service call every time while a disabled account still loses access at once.
 *
 * Two mechanisms bound staleness: the `users.changed` broadcast drops an entry as soon as it arrives
 * (on every API node), and every entry expires after `ttlMs` anyway, so that a lost event cannot keep
 * a disabled user in for longer than that.
 */
export class AuthStateCache {
  private readonly entries = new Map<string, { state: AuthState; expiresAt: number }>();
  private readonly inFlight = new Map<string, Promise<AuthState>>();

  constructor(
    private readonly fetchState: (id: string) => Promise<AuthState>,
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
    /** Milliseconds for the TTL; injectable so that a test can let an entry expire without waiting. */
    private readonly now: () => number = Date.now,
  ) {}

  async get(id: string): Promise<AuthState> {
    const hit = this.entries.get(id);
    if (hit && hit.expiresAt > this.now()) return hit.state;
    // One call per id at a time: a burst of requests from one user waits for the same answer.
    let pending = this.inFlight.get(id);
    if (!pending) {
      pending = this.fetchState(id);
      this.inFlight.set(id, pending);
      const current = pending;
      pending.then(
        (state) => {
          // Invalidated while the call was out: the answer may predate the change, do not keep it.
          if (this.inFlight.get(id) !== current) return;
          this.inFlight.delete(id);
          this.store(id, state);
        },
        () => {
          if (this.inFlight.get(id) === current) this.inFlight.delete(id);
        },
      );
    }
    return pending;
  }

  /** Drops what is known about one user (or everyone). */
  invalidate(id?: string): void {
    if (id === undefined) {
      this.entries.clear();
      this.inFlight.clear();
      return;
    }
    this.entries.delete(id);
    this.inFlight.delete(id);
  }

  private store(id: string, state: AuthState): void {
    this.entries.delete(id);
    if (this.entries.size >= this.maxEntries) {
      // Maps iterate in insertion order: the first key is the oldest entry.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(id, { state, expiresAt: this.now() + this.ttlMs });
  }
}
