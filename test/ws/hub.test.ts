import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import test from "ava";
import { AuthStateCache } from "../../api/auth/auth-state-cache.ts";
import { WsHub, type WsHubOptions } from "../../api/ws/hub.ts";
import type { AuthState } from "../../services/users/schemas.ts";
import { TEST_JWT_SECRET, useTestPlatform } from "../helpers/platform.ts";
import { addTableRunsService, metricsEvent, type RunTable, TestSocket } from "./helpers.ts";

/**
 * The hub's protections against peers that stop reading or answering, checked on a hub of its own
 * (small thresholds, fast heartbeat) served by its own HTTP server, with the platform's real broker,
 * users service and test runs table behind it.
 */
const platform = useTestPlatform(test, { SERVICES: "api,users,tickets" });
const table: RunTable = { runs: new Map() };
let runsService: Promise<void> | undefined;
test.beforeEach(async () => {
  runsService ??= addTableRunsService(platform().platform.broker, table);
  await runsService;
});

async function startHub(
  t: { teardown(fn: () => Promise<void>): void },
  options: Partial<WsHubOptions>,
): Promise<{ hub: WsHub; url: string }> {
  const { broker, config, logger } = platform().platform;
  const hub = new WsHub(
    {
      broker,
      logger,
      jwtSecret: TEST_JWT_SECRET,
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      allowedOrigins: [],
      authStates: new AuthStateCache((id) =>
        broker.call<AuthState, { id: string }>("users.authState", { id }),
      ),
    },
    options,
  );
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  hub.attach(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(async () => {
    await hub.close();
    await new Promise((resolve) => server.close(resolve));
  });
  return { hub, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`gave up waiting: ${what}`);
}

function rawSocket(socket: TestSocket): Socket {
  return (socket.ws as unknown as { _socket: Socket })._socket;
}

test("a subscriber that stops reading is dropped instead of buffered without bound", async (t) => {
  const { hub, url } = await startHub(t, { maxBufferedBytes: 64 * 1024 });
  const me = await platform().learner();
  const runId = randomUUID();
  table.runs.set(runId, { ownerId: me.user.id, status: "running", points: [] });
  const slow = await TestSocket.withToken(url, me.tokens.accessToken);
  const healthy = await TestSocket.withToken(url, me.tokens.accessToken);
  t.like(await slow.subscribe(runId), { type: "subscribed" });
  t.like(await healthy.subscribe(runId), { type: "subscribed" });

  rawSocket(slow).pause();
  // ~4 KiB frames: 8,000 of them (~32 MiB) outgrow any loopback socket buffer.
  const padding = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`custom/metric_${i}`, i]));
  const frames = 8_000;
  for (let i = 1; i <= frames && hub.stats().dropped.slow === 0; i++) {
    hub.publishMetrics({ ...metricsEvent(runId, me.user.id, i), metrics: padding });
    if (i % 100 === 0) await new Promise((r) => setImmediate(r));
  }
  t.is(hub.stats().dropped.slow, 1);
  t.is(hub.stats().openSockets, 1);
  rawSocket(slow).resume();
  t.is((await slow.closed).code, 1006);

  // The reader that kept up still gets every point.
  await healthy.next((m) => m["type"] === "metrics" && m["iteration"] === 1);
  hub.publishMetrics(metricsEvent(runId, me.user.id, frames + 1));
  await healthy.next((m) => m["type"] === "metrics" && m["iteration"] === frames + 1);
  healthy.close();
});

test("a peer that stops answering pings is terminated by the heartbeat", async (t) => {
  const { hub, url } = await startHub(t, { heartbeatMs: 100 });
  const me = await platform().learner();
  const responsive = await TestSocket.withToken(url, me.tokens.accessToken);
  const silent = await TestSocket.withToken(url, me.tokens.accessToken);
  rawSocket(silent).pause();
  await until(() => hub.stats().dropped.dead === 1, "the silent peer is terminated");
  // Several beats later, the peer that answers its pings is still there.
  await new Promise((r) => setTimeout(r, 400));
  t.is(hub.stats().openSockets, 1);
  t.is(responsive.ws.readyState, responsive.ws.OPEN);
  responsive.close();
  silent.close();
});

test("closing the hub closes its sockets with 1001 and refuses new upgrades", async (t) => {
  const { hub, url } = await startHub(t, {});
  const me = await platform().learner();
  const socket = await TestSocket.withToken(url, me.tokens.accessToken);
  await hub.close();
  t.is((await socket.closed).code, 1001);
  await t.throwsAsync(TestSocket.withToken(url, me.tokens.accessToken), { message: /503/ });
});
