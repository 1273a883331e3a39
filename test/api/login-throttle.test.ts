import { MikroORM } from "@mikro-orm/postgresql";
import test from "ava";
import pino from "pino";
import { ormOptions } from "../../db/orm.ts";
import type { LoginLimitSettings } from "../../services/users/login-limiter.ts";
import { LoginLimiter } from "../../services/users/login-limiter.ts";
import { login } from "../../services/users/sessions.ts";
import { createTestDatabase } from "../helpers/db.ts";

/**
 * The login throttle on its own (services/users/login-limiter.ts), on a real PostgreSQL database and a
 * clock the test turns: who is refused, who is not, and when the refusals end.
 */
const SETTINGS: LoginLimitSettings = {
  LOGIN_MAX_FAILURES_PER_ACCOUNT: 3,
  LOGIN_MAX_FAILURES_PER_ACCOUNT_GLOBAL: 6,
  LOGIN_MAX_FAILURES_PER_IP: 5,
  LOGIN_FAILURE_WINDOW_S: 600,
  LOGIN_KNOWN_CLIENT_TTL_S: 3600,
};

async function limiterWithClock(t: { teardown(fn: () => Promise<void>): void }) {
  const database = await createTestDatabase();
  const clock = { now: 1_800_000_000_000 };
  const limiter = await LoginLimiter.open(database.url, SETTINGS, () => clock.now);
  t.teardown(async () => {
    await limiter.close();
    await database.drop();
  });
  return { limiter, clock };
}

/** One failed attempt; the error's limit when it was refused, "counted" when it was let through. */
async function fail(limiter: LoginLimiter, account: string, ip: string): Promise<string> {
  try {
    await limiter.begin(account, ip);
    return "counted";
  } catch (err) {
    return String((err as { data?: { limit?: string } }).data?.limit);
  }
}

test("an attacker's failures on one address do not refuse the victim on another", async (t) => {
  const { limiter } = await limiterWithClock(t);
  for (let i = 0; i < 3; i++) t.is(await fail(limiter, "victim@x.org", "203.0.113.1"), "counted");
  t.is(await fail(limiter, "victim@x.org", "203.0.113.1"), "LOGIN_MAX_FAILURES_PER_ACCOUNT");
  // The victim, from home, is let through to the password check.
  const attempt = await limiter.begin("victim@x.org", "198.51.100.2");
  await limiter.succeeded(attempt);
  t.pass();
});

test("the refusal ends with the window, and says when (Retry-After)", async (t) => {
  const { limiter, clock } = await limiterWithClock(t);
  for (let i = 0; i < 3; i++) await fail(limiter, "a@x.org", "203.0.113.1");
  clock.now += 100_000;
  const err = await t.throwsAsync(limiter.begin("a@x.org", "203.0.113.1"));
  t.like((err as unknown as { code: number; data: object }).data, {
    limit: "LOGIN_MAX_FAILURES_PER_ACCOUNT",
    value: 3,
    retryAfter: 500,
  });
  t.regex(err!.message, /at most 3 failures in 600 s/);
  clock.now += 500_000;
  t.is(await fail(limiter, "a@x.org", "203.0.113.1"), "counted", "a new window");
});

test("failures spread over many addresses hit the slower global limit, which a known client skips", async (t) => {
  const { limiter, clock } = await limiterWithClock(t);
  // The owner logged in from home an hour ago (known client for LOGIN_KNOWN_CLIENT_TTL_S).
  await limiter.succeeded(await limiter.begin("owner@x.org", "198.51.100.2"));
  clock.now += 60_000;
  // Six addresses, one guess each: none reaches its own budget of 3, the account's 6 are spent.
  for (let i = 1; i <= 6; i++) t.is(await fail(limiter, "owner@x.org", `203.0.113.${i}`), "counted");
  t.is(await fail(limiter, "owner@x.org", "203.0.113.7"), "LOGIN_MAX_FAILURES_PER_ACCOUNT_GLOBAL");
  t.is(
    await fail(limiter, "owner@x.org", "192.0.2.50"),
    "LOGIN_MAX_FAILURES_PER_ACCOUNT_GLOBAL",
    "a new client of the account is slowed down too",
  );
  // The owner's own client is not.
  const attempt = await limiter.begin("owner@x.org", "198.51.100.2");
  t.true(attempt.known);
  await limiter.succeeded(attempt);
  // Other accounts are unaffected.
  t.is(await fail(limiter, "other@x.org", "192.0.2.50"), "counted");
  // The global window ends like the others.
  clock.now += 600_000;
  t.is(await fail(limiter, "owner@x.org", "192.0.2.50"), "counted");
});

test("a known client lapses after LOGIN_KNOWN_CLIENT_TTL_S", async (t) => {
  const { limiter, clock } = await limiterWithClock(t);
  await limiter.succeeded(await limiter.begin("owner@x.org", "198.51.100.2"));
  clock.now += 3_600_000 + 1;
  t.false((await limiter.begin("owner@x.org", "198.51.100.2")).known);
});

test("password spraying from one address is limited across accounts, but not for that address's known clients", async (t) => {
  const { limiter } = await limiterWithClock(t);
  // A colleague behind the same NAT logged in before.
  await limiter.succeeded(await limiter.begin("colleague@x.org", "192.0.2.1"));
  for (let i = 1; i <= 5; i++) t.is(await fail(limiter, `spray-${i}@x.org`, "192.0.2.1"), "counted");
  t.is(await fail(limiter, "spray-6@x.org", "192.0.2.1"), "LOGIN_MAX_FAILURES_PER_IP");
  t.true((await limiter.begin("colleague@x.org", "192.0.2.1")).known, "the colleague still gets through");
});

test("a success clears the client's count on the account", async (t) => {
  const { limiter } = await limiterWithClock(t);
  for (let i = 0; i < 2; i++) await fail(limiter, "a@x.org", "203.0.113.1");
  await limiter.succeeded(await limiter.begin("a@x.org", "203.0.113.1"));
  for (let i = 0; i < 3; i++) t.is(await fail(limiter, "a@x.org", "203.0.113.1"), "counted");
  t.is(await fail(limiter, "a@x.org", "203.0.113.1"), "LOGIN_MAX_FAILURES_PER_ACCOUNT");
});

test("parallel guesses cannot slip past the budget", async (t) => {
  const { limiter } = await limiterWithClock(t);
  const outcomes = await Promise.all(
    Array.from({ length: 12 }, () => fail(limiter, "a@x.org", "203.0.113.1")),
  );
  t.is(outcomes.filter((o) => o === "counted").length, 3);
});

test("expired counters are deleted, live ones kept", async (t) => {
  const { limiter, clock } = await limiterWithClock(t);
  await fail(limiter, "a@x.org", "203.0.113.1");
  await limiter.succeeded(await limiter.begin("b@x.org", "203.0.113.2"));
  t.is(await limiter.store.deleteExpired(), 0, "nothing has expired yet");
  clock.now += 600_000;
  // a's client, account and address rows and b's refunded account and address rows have expired;
  // b's known-client mark has not.
  t.is(await limiter.store.deleteExpired(), 5);
  t.true((await limiter.begin("b@x.org", "203.0.113.2")).known);
});

test("a login that fails before any password is checked (the database lookup fails) costs no failed-login budget", async (t) => {
  const { limiter } = await limiterWithClock(t);
  // A database without Proxima's tables: the account lookup, which comes after the limiter took the
  // attempt's points and before the password check, fails on every try.
  const broken = await createTestDatabase();
  const orm = await MikroORM.init(ormOptions(broken.url, { log: () => undefined }));
  t.teardown(async () => {
    await orm.close(true);
    await broken.drop();
  });
  const deps = {
    limiter,
    logger: pino({ level: "silent" }),
    settings: {
      secret: "s".repeat(32),
      issuer: "i",
      audience: "a",
      accessTtlSeconds: 60,
      refreshTtlSeconds: 600,
    },
  };
  for (let i = 0; i < 5; i++) {
    const err = await t.throwsAsync(
      login(orm.em.fork(), deps, { email: "a@x.org", password: "whatever-it-is", ip: "203.0.113.1" }),
    );
    t.regex(err!.message, /users/, "the lookup's own error reaches the caller");
  }
  // Five failed lookups against a budget of three: had they counted, this would be refused.
  t.is(await fail(limiter, "a@x.org", "203.0.113.1"), "counted");
});
