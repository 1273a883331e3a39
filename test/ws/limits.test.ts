import { once } from "node:events";
import http from "node:http";
import test from "ava";
import { MAX_TRACKED_KEYS, UpgradeLimits } from "../../api/ws/upgrade-limits.ts";
import { useTestPlatform } from "../helpers/platform.ts";
import { startHub, TestSocket, UpgradeRefused, wsUrl } from "./helpers.ts";

/**
 * Per-user and per-address WebSocket limits (issue 15, finding 5), on a hub of its own with small
 * limits and a clock the test turns, in front of the platform's real users service.
 */
const platform = useTestPlatform(test, { SERVICES: "api,users,tickets" });

interface Answer {
  status: number;
  retryAfter: string | undefined;
  body: Record<string, unknown>;
}

/** One upgrade attempt, raw: the status, Retry-After and problem body of a refusal (101: accepted, closed again). */
function attempt(url: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(wsUrl(url).replace(/^ws/, "http"), {
      headers: {
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": Buffer.from("0123456789abcdef").toString("base64"),
        ...headers,
      },
    });
    req.on("upgrade", (_res, socket) => {
      socket.destroy();
      resolve({ status: 101, retryAfter: undefined, body: {} });
    });
    req.on("response", (res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => {
        text += chunk.toString("utf8");
      });
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          retryAfter: res.headers["retry-after"],
          body: JSON.parse(text) as Record<string, unknown>,
        }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

test("one user's N+1th socket is refused with 429 naming the limit, while another user still connects", async (t) => {
  const { url } = await startHub(platform(), t, { maxSocketsPerUser: 3 });
  const alice = await platform().learner();
  const bob = await platform().learner();
  const sockets = await Promise.all([1, 2, 3].map(() => TestSocket.withToken(url, alice.tokens.accessToken)));

  const refused = await attempt(url, bearer(alice.tokens.accessToken));
  t.is(refused.status, 429);
  t.like(refused.body, { status: 429, limit: "WS_MAX_CONNECTIONS_PER_USER", value: 3 });
  t.regex(String(refused.body["detail"]), /at most 3/);
  t.truthy(refused.retryAfter);

  const other = await TestSocket.withToken(url, bob.tokens.accessToken);
  t.is(other.ws.readyState, other.ws.OPEN, "another user is not shut out");
  for (const s of [...sockets, other]) s.close();
});

test("parallel upgrades of one user cannot all slip under the cap", async (t) => {
  const { url } = await startHub(platform(), t, { maxSocketsPerUser: 2, upgradesPerMinutePerUser: 100 });
  const alice = await platform().learner();
  const outcomes = await Promise.allSettled(
    Array.from({ length: 12 }, () => TestSocket.withToken(url, alice.tokens.accessToken)),
  );
  const open = outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
  const refused = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason as unknown] : []));
  t.is(open.length, 2);
  t.is(refused.length, 10);
  for (const err of refused) t.true(err instanceof UpgradeRefused && err.status === 429);
  for (const s of open) s.close();
});

test("closing a socket frees its user's slot", async (t) => {
  const { hub, url } = await startHub(platform(), t, { maxSocketsPerUser: 1 });
  const alice = await platform().learner();
  const first = await TestSocket.withToken(url, alice.tokens.accessToken);
  t.is((await attempt(url, bearer(alice.tokens.accessToken))).status, 429);

  const freed = once(hub.events, "closed");
  first.ws.close(1000, "done");
  t.deepEqual(await freed, [alice.user.id]);

  const second = await TestSocket.withToken(url, alice.tokens.accessToken);
  t.is(second.ws.readyState, second.ws.OPEN);
  second.close();
});

test("one user's upgrade rate is limited (429 naming it, with Retry-After) and recovers with time", async (t) => {
  let now = 0;
  const { url } = await startHub(platform(), t, { upgradesPerMinutePerUser: 3, now: () => now });
  const alice = await platform().learner();
  const bob = await platform().learner();
  for (let i = 1; i <= 3; i++) {
    t.is((await attempt(url, bearer(alice.tokens.accessToken))).status, 101, `upgrade ${i}`);
  }
  const limited = await attempt(url, bearer(alice.tokens.accessToken));
  t.is(limited.status, 429);
  t.like(limited.body, { limit: "WS_UPGRADES_PER_MIN_PER_USER", value: 3 });
  // 3 per minute refill one every 20 s.
  t.is(limited.retryAfter, "20");
  t.is((await attempt(url, bearer(bob.tokens.accessToken))).status, 101, "another user is not limited");

  now += 20_000;
  t.is((await attempt(url, bearer(alice.tokens.accessToken))).status, 101, "a token came back");
  t.is((await attempt(url, bearer(alice.tokens.accessToken))).status, 429);
});

test("failed authentications from one address make its upgrades 429 before any token is checked", async (t) => {
  let now = 0;
  const { url } = await startHub(platform(), t, {
    failedUpgradesPerMinutePerIp: 2,
    trustProxy: true,
    now: () => now,
  });
  const alice = await platform().learner();
  const from = (ip: string, token: string) => ({ ...bearer(token), "x-forwarded-for": ip });

  t.is((await attempt(url, from("203.0.113.5", "not-a-jwt"))).status, 401);
  t.is((await attempt(url, from("203.0.113.5", "still-not-a-jwt"))).status, 401);
  const blocked = await attempt(url, from("203.0.113.5", alice.tokens.accessToken));
  t.is(blocked.status, 429, "even a valid token, once the address is blocked");
  t.like(blocked.body, { limit: "WS_FAILED_UPGRADES_PER_MIN_PER_IP", value: 2 });
  t.is(blocked.retryAfter, "30");

  t.is(
    (await attempt(url, from("198.51.100.8", alice.tokens.accessToken))).status,
    101,
    "another address is not blocked",
  );
  now += 30_000;
  t.is((await attempt(url, from("203.0.113.5", alice.tokens.accessToken))).status, 101);
});

test("the per-address failure counts are bounded: past MAX_TRACKED_KEYS addresses the oldest is forgotten", (t) => {
  const limits = new UpgradeLimits({
    maxSocketsPerUser: 1,
    upgradesPerMinutePerUser: 1,
    failedUpgradesPerMinutePerIp: 1,
    trustProxy: false,
    now: () => 0,
  });
  limits.failed("first");
  t.like(limits.checkAddress("first"), { status: 429 });
  for (let i = 0; i < MAX_TRACKED_KEYS; i++) limits.failed(`addr-${i}`);
  t.is(limits.checkAddress("first"), undefined, "forgotten rather than kept without bound");
  t.like(limits.checkAddress(`addr-${MAX_TRACKED_KEYS - 1}`), { status: 429 });
});
