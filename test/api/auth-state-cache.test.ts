import test from "ava";
import { AuthStateCache } from "../../api/auth/auth-state-cache.ts";
import type { AuthState } from "../../services/users/schemas.ts";

/** A stand-in for the users service: a table of states and a count of the calls it answered. */
function source(initial: AuthState) {
  const state = { current: initial, calls: 0 };
  const fetch = async (_id: string) => {
    state.calls += 1;
    return state.current;
  };
  return { state, fetch };
}

const ACTIVE: AuthState = {
  id: "u1",
  exists: true,
  disabled: false,
  role: "learner",
  account: {
    id: "u1",
    email: "u1@example.org",
    name: "U1",
    role: "learner",
    disabled: false,
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: "2026-01-01T00:00:00.000Z",
  },
};
const DISABLED: AuthState = { ...ACTIVE, disabled: true };

test("answers from the cache within the TTL, with one call for concurrent requests", async (t) => {
  const { state, fetch } = source(ACTIVE);
  const cache = new AuthStateCache(fetch, 60_000);
  await Promise.all([cache.get("u1"), cache.get("u1"), cache.get("u1")]);
  await cache.get("u1");
  t.is(state.calls, 1);
});

test("an invalidation makes the next request see the change at once", async (t) => {
  const { state, fetch } = source(ACTIVE);
  const cache = new AuthStateCache(fetch, 60_000);
  t.false((await cache.get("u1")).disabled);
  state.current = DISABLED;
  cache.invalidate("u1");
  t.true((await cache.get("u1")).disabled);
});

test("without any invalidation (a lost event), an entry expires after the TTL", async (t) => {
  const { state, fetch } = source(ACTIVE);
  let now = 1_000;
  const cache = new AuthStateCache(fetch, 50, 10_000, () => now);
  await cache.get("u1");
  state.current = DISABLED;
  now += 49;
  t.false((await cache.get("u1")).disabled, "still cached within the TTL");
  now += 1;
  t.true((await cache.get("u1")).disabled, "expired at the TTL");
  t.is(state.calls, 2);
});

test("an answer that was in flight when the entry was invalidated is not kept", async (t) => {
  let release: (s: AuthState) => void = () => {};
  let calls = 0;
  const cache = new AuthStateCache(
    () =>
      new Promise<AuthState>((resolve) => {
        calls += 1;
        release = resolve;
      }),
    60_000,
  );
  const stale = cache.get("u1");
  cache.invalidate("u1");
  release(ACTIVE);
  await stale;
  const fresh = cache.get("u1");
  t.is(calls, 2, "the invalidated answer was not cached");
  release(DISABLED);
  t.true((await fresh).disabled);
});

test("the cache holds at most maxEntries users, dropping the oldest", async (t) => {
  const { state, fetch } = source(ACTIVE);
  const cache = new AuthStateCache(fetch, 60_000, 2);
  await cache.get("a");
  await cache.get("b");
  await cache.get("c");
  t.is(state.calls, 3);
  await cache.get("c");
  await cache.get("b");
  t.is(state.calls, 3);
  await cache.get("a");
  t.is(state.calls, 4);
});
