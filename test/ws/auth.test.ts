import { randomUUID } from "node:crypto";
import http from "node:http";
import test from "ava";
import { call } from "../../services/actions.ts";
import { hashTicket } from "../../services/tickets/tickets.ts";
import { signAccessToken } from "../../services/users/tokens.ts";
import { TEST_JWT_SECRET, useTestPlatform } from "../helpers/platform.ts";
import { waitUntil } from "../helpers/wait.ts";
import { TestSocket, upgradeStatus, wsUrl } from "./helpers.ts";

const api = useTestPlatform(test, { SERVICES: "api,users,tickets" });

async function ticketFor(accessToken: string): Promise<{ ticket: string; expiresIn: number }> {
  const res = await api().request<{ ticket: string; expiresIn: number }>("POST", "/api/v1/ws/tickets", {
    token: accessToken,
  });
  if (res.status !== 201) throw new Error(`ticket refused: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

function tokenFor(userId: string, opts: { ttlSeconds: number; now?: number; secret?: string }): string {
  const { config } = api();
  return signAccessToken(
    { sub: userId, role: "learner" },
    {
      secret: opts.secret ?? TEST_JWT_SECRET,
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      ttlSeconds: opts.ttlSeconds,
      now: opts.now,
    },
  );
}

test("an upgrade with a valid Authorization: Bearer header opens the socket", async (t) => {
  const { learner, url } = api();
  const me = await learner();
  const socket = await TestSocket.withToken(url, me.tokens.accessToken);
  t.is(socket.ws.readyState, socket.ws.OPEN);
  socket.close();
});

test("an upgrade without credentials, with a bad token or with a forged signature is refused with 401", async (t) => {
  const { learner, url } = api();
  const me = await learner();
  t.is(await upgradeStatus(wsUrl(url)), 401);
  t.is(await upgradeStatus(wsUrl(url), { authorization: "Bearer not-a-jwt" }), 401);
  t.is(await upgradeStatus(wsUrl(url), { authorization: `Basic ${btoa("a:b")}` }), 401);
  const forged = tokenFor(me.user.id, {
    ttlSeconds: 60,
    secret: "another secret of at least 32 characters!!",
  });
  t.is(await upgradeStatus(wsUrl(url), { authorization: `Bearer ${forged}` }), 401);
  // alg "none" with the claims of a valid token: the signature is not optional.
  const [, payload] = me.tokens.accessToken.split(".");
  const none = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${payload}.`;
  t.is(await upgradeStatus(wsUrl(url), { authorization: `Bearer ${none}` }), 401);
});

test("an expired token, or one for an account that does not exist, is refused with 401", async (t) => {
  const { learner, url } = api();
  const me = await learner();
  const expired = tokenFor(me.user.id, { ttlSeconds: 60, now: Math.floor(Date.now() / 1000) - 120 });
  t.is(await upgradeStatus(wsUrl(url), { authorization: `Bearer ${expired}` }), 401);
  const ghost = tokenFor(randomUUID(), { ttlSeconds: 60 });
  t.is(await upgradeStatus(wsUrl(url), { authorization: `Bearer ${ghost}` }), 401);
});

test("a refused upgrade is an HTTP problem response with a Bearer challenge, not a socket closed later", async (t) => {
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = http.get(wsUrl(api().url).replace(/^ws/, "http"), {
      headers: {
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": Buffer.from("0123456789abcdef").toString("base64"),
      },
    });
    req.on("response", resolve);
    req.on("upgrade", () => reject(new Error("the upgrade was accepted")));
    req.on("error", reject);
  });
  t.is(res.statusCode, 401);
  t.regex(res.headers["www-authenticate"] ?? "", /^Bearer realm="proxima"/);
  t.is(res.headers["content-type"], "application/problem+json");
  let text = "";
  for await (const chunk of res) text += String(chunk);
  const body = JSON.parse(text) as { status: number; instance: string };
  t.is(body.status, 401);
  t.is(body.instance, "/api/v1/ws");
});

test("an access token in the query is refused, even a valid one", async (t) => {
  const { learner, url } = api();
  const me = await learner();
  const token = encodeURIComponent(me.tokens.accessToken);
  t.is(await upgradeStatus(wsUrl(url, `?token=${token}`)), 401);
  t.is(await upgradeStatus(wsUrl(url, `?access_token=${token}`)), 401);
  // Not even beside a valid header: the token has leaked into a URL either way.
  t.is(
    await upgradeStatus(wsUrl(url, `?access_token=${token}`), {
      authorization: `Bearer ${me.tokens.accessToken}`,
    }),
    401,
  );
});

test("a ticket from POST /ws/tickets opens the socket once, and only once", async (t) => {
  const { learner, url } = api();
  const me = await learner();
  const { ticket, expiresIn } = await ticketFor(me.tokens.accessToken);
  t.true(expiresIn > 0 && expiresIn <= 30);
  const socket = await TestSocket.open(wsUrl(url, `?ticket=${encodeURIComponent(ticket)}`));
  t.is(socket.ws.readyState, socket.ws.OPEN);
  socket.close();
  t.is(await upgradeStatus(wsUrl(url, `?ticket=${encodeURIComponent(ticket)}`)), 401);
});

test("two upgrades racing with one ticket: exactly one is accepted", async (t) => {
  const { learner, url } = api();
  const me = await learner();
  const { ticket } = await ticketFor(me.tokens.accessToken);
  const target = wsUrl(url, `?ticket=${encodeURIComponent(ticket)}`);
  const statuses = await Promise.all([upgradeStatus(target), upgradeStatus(target), upgradeStatus(target)]);
  t.deepEqual(
    statuses.sort((a, b) => a - b),
    [101, 401, 401],
  );
});

test("an expired ticket is refused", async (t) => {
  const { learner, url, platform } = api();
  const me = await learner();
  const issued = await call(platform.broker, "tickets.issue", {
    userId: me.user.id,
    sessionExpiresAt: Date.now() + 60_000,
    ttlSeconds: 1,
  });
  // Tickets expire on the database's clock: wait until it says this one has.
  await waitUntil(async () => {
    const rows = await platform.db.orm.em
      .getConnection()
      .execute<{ expired: boolean }[]>(
        `select "expires_at" <= now() as "expired" from "ws_tickets" where "token_hash" = ?`,
        [hashTicket(issued.ticket)],
      );
    return rows[0]?.expired === true;
  }, "the ticket's expiry on the database's clock");
  t.is(await upgradeStatus(wsUrl(url, `?ticket=${encodeURIComponent(issued.ticket)}`)), 401);
});

test("an unknown ticket is refused, and asking for a ticket needs an access token", async (t) => {
  const { url, request } = api();
  t.is(await upgradeStatus(wsUrl(url, "?ticket=nope")), 401);
  t.is(await upgradeStatus(wsUrl(url, `?ticket=${"x".repeat(500)}`)), 401);
  t.is((await request("POST", "/api/v1/ws/tickets")).status, 401);
});

test("an upgrade from a foreign Origin is refused with 403", async (t) => {
  const { learner, url } = api();
  const me = await learner();
  const status = await upgradeStatus(wsUrl(url), {
    authorization: `Bearer ${me.tokens.accessToken}`,
    origin: "https://evil.example",
  });
  t.is(status, 403);
  const own = await upgradeStatus(wsUrl(url), {
    authorization: `Bearer ${me.tokens.accessToken}`,
    origin: url,
  });
  t.is(own, 101);
});

test("the socket closes with 4001 when its access token expires", async (t) => {
  const { learner, url } = api();
  const me = await learner();
  const shortLived = tokenFor(me.user.id, { ttlSeconds: 2 });
  const socket = await TestSocket.withToken(url, shortLived);
  const closed = await socket.closed;
  t.is(closed.code, 4001);
  t.is(closed.reason, "access token expired");
});

test("a socket opened with a ticket closes when the token that asked for the ticket expires", async (t) => {
  const { learner, url, platform } = api();
  const me = await learner();
  const issued = await call(platform.broker, "tickets.issue", {
    userId: me.user.id,
    sessionExpiresAt: Date.now() + 2_000,
  });
  const socket = await TestSocket.open(wsUrl(url, `?ticket=${encodeURIComponent(issued.ticket)}`));
  t.is((await socket.closed).code, 4001);
});

test("disabling the account closes its open sockets with 4003, and it cannot reconnect", async (t) => {
  const { learner, loginAdmin, request, url } = api();
  const me = await learner();
  const socket = await TestSocket.withToken(url, me.tokens.accessToken);
  const admin = await loginAdmin();
  const res = await request("PATCH", `/api/v1/users/${me.user.id}`, {
    token: admin.accessToken,
    body: { disabled: true },
  });
  t.is(res.status, 200);
  const closed = await socket.closed;
  t.is(closed.code, 4003);
  t.is(await upgradeStatus(wsUrl(url), { authorization: `Bearer ${me.tokens.accessToken}` }), 401);
});

test("a plain GET of the WebSocket endpoint answers 426, and other paths do not upgrade", async (t) => {
  const { url, learner } = api();
  const res = await fetch(`${url}/api/v1/ws`);
  t.is(res.status, 426);
  t.is(res.headers.get("upgrade"), "websocket");
  const me = await learner();
  const elsewhere = await upgradeStatus(`${url.replace(/^http/, "ws")}/api/v1/me`, {
    authorization: `Bearer ${me.tokens.accessToken}`,
  });
  t.is(elsewhere, 404);
});
