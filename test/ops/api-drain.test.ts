import http from "node:http";
import test from "ava";
import WebSocket from "ws";
import { createTestDatabase } from "../helpers/db.ts";
import { TEST_ADMIN, TEST_JWT_SECRET } from "../helpers/platform.ts";
import { waitUntil } from "../helpers/wait.ts";
import { freePort, startProxima, tempDir, waitForUrl } from "./helpers.ts";

/**
 * SIGTERM on an API process (what Kubernetes sends at a rollout or a node drain): it stops accepting
 * connections, closes its WebSockets with 1001 "going away" so that clients reconnect elsewhere,
 * lets the request in flight finish, and exits 0.
 */
test("SIGTERM on an API process closes WebSockets with 1001, refuses new connections and finishes the request in flight", async (t) => {
  const db = await createTestDatabase();
  t.teardown(() => db.drop());
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const proc = startProxima(t, {
    SERVICES: "api,users",
    PORT: String(port),
    DATABASE_URL: db.url,
    PROXIMA_DATA_DIR: await tempDir(t),
    JWT_SECRET: TEST_JWT_SECRET,
    PROXIMA_ADMIN_EMAIL: TEST_ADMIN.email,
    PROXIMA_ADMIN_PASSWORD: TEST_ADMIN.password,
  });
  await waitForUrl(proc, `${base}/readyz`);

  const credentials = JSON.stringify({ email: TEST_ADMIN.email, password: TEST_ADMIN.password });
  const login = await fetch(`${base}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: credentials,
  });
  t.is(login.status, 200);
  const { accessToken } = (await login.json()) as { accessToken: string };

  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/ws`, {
    headers: { authorization: `Bearer ${accessToken}` },
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });

  // A login whose body is only half sent: the server has the request and waits for the rest.
  const body = Buffer.from(credentials);
  const slow = http.request(`${base}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json", "content-length": String(body.length) },
  });
  const answered = new Promise<{ status: number; text: string }>((resolve, reject) => {
    slow.once("response", (res) => {
      let text = "";
      res.on("data", (d: Buffer) => {
        text += d.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    slow.once("error", reject);
  });
  slow.write(body.subarray(0, 10));
  // One full round trip on another connection after the half request was written: by its answer the
  // server has read the half request's headers.
  t.is((await fetch(`${base}/healthz`)).status, 200);

  proc.child.kill("SIGTERM");

  t.deepEqual(await closed, { code: 1001, reason: "server shutting down" });

  // New connections are refused while the request in flight is still open.
  await waitUntil(
    () =>
      fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2_000) }).then(
        async (r) => {
          await r.body?.cancel();
          return false;
        },
        (err: unknown) => (err as { cause?: { code?: string } }).cause?.code === "ECONNREFUSED",
      ),
    "the listening socket to close",
  );
  t.is(proc.child.exitCode, null, "the process waits for the request in flight");

  slow.end(body.subarray(10));
  const response = await answered;
  t.is(response.status, 200, response.text);
  t.truthy((JSON.parse(response.text) as { accessToken?: string }).accessToken);

  t.is(await proc.exited, 0, proc.output());
});
