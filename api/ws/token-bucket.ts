/**
 * A token bucket (Turner, "New directions in communications", 1986; as in RFC 2697's meters): it
 * holds at most `capacity` tokens, gains `refillPerSecond` per second, and each message takes one.
 * A burst up to the capacity passes; a sustained rate above the refill does not.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly capacity: number,
    private readonly refillPerSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = capacity;
    this.updatedAt = now();
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Whether a token is there to take, without taking it. */
  hasToken(): boolean {
    this.refill();
    return this.tokens >= 1;
  }

  /** Whether the bucket is back to its capacity (it then remembers nothing and can be dropped). */
  isFull(): boolean {
    this.refill();
    return this.tokens >= this.capacity;
  }

  /** Seconds until the next token (0 when one is there): a Retry-After. */
  secondsUntilToken(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : (1 - this.tokens) / this.refillPerSecond;
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(
      this.capacity,
      this.tokens + ((now - this.updatedAt) / 1000) * this.refillPerSecond,
    );
    this.updatedAt = now;
  }
}
