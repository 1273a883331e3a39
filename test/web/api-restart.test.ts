import { randomBytes } from "node:crypto";
import net from "node:net";
import anyTest from "ava";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";
import { launch, metrics, tinyRun, waitForStatus } from "../runs/helpers.ts";
import { browserUnavailable, loginThroughForm, openPage, useBrowser, waitForAttribute } from "./helpers.ts";

/**
 * An API restart under an open run page: a cluster over NATS where one process trains (users, runs,
 * workers, tickets) and another serves the API the browser talks to. The API process is stopped and a
 * new one started on the same port while the run goes on; the page must reconnect by itself and end
 * with every point of the run.
 */
const NATS_URL = process.env["TEST_NATS_URL"] ?? "nats://127.0.0.1:4222";
const skip = browserUnavailable();
if (skip) anyTest.skip(`browser tests: ${skip}`, () => {});
else suite();

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** What a browser logs while the API is down: refused connections, nothing else. */
const WHILE_DOWN = /ERR_CONNECTION_REFUSED|WebSocket connection to .* failed/;

function suite() {
  const browser = useBrowser(anyTest);

  anyTest.serial(
    "the run page survives an API restart: it reconnects and fetches every point it missed",
    async (t) => {
      const namespace = `web-restart-${randomBytes(4).toString("hex")}`;
      const cluster = { NATS_URL, MOLECULER_NAMESPACE: namespace, RUN_SCHEDULE_INTERVAL_MS: "100" };
      const core = await startTestPlatform(t, {
        ...cluster,
        SERVICES: "api,users,runs,workers,tickets",
        NODE_ID: `${namespace}-core`,
      });
      const port = await freePort();
      let generation = 0;
      const startFront = () =>
        startTestPlatform(
          null,
          { ...cluster, SERVICES: "api", PORT: String(port), NODE_ID: `${namespace}-api-${++generation}` },
          { database: core.database },
        );
      let front: TestPlatform = await startFront();
      t.teardown(() => front.stop());
      // The front API reaches the users service over NATS once the nodes have discovered each other.
      await waitFor(
        () => front.request("GET", "/readyz").then((r) => r.status),
        (s) => s === 200,
        "the front API ready",
      );

      const me = await core.register();
      const token = (await core.login(me.email, me.password)).accessToken;
      // Far longer than the test: the run is still going when the API goes down, whatever the load;
      // it is stopped once the page is back, and the page must then show every point it made.
      const run = await launch(core, token, tinyRun(5_000));

      const w = await openPage(browser());
      const { page } = w;
      await loginThroughForm(page, front.url, me.email, me.password);
      await page.goto(`${front.url}/runs/${run.id}`);
      const chart = 'figure[data-chart="episodic-return"]';
      await waitForAttribute(page, chart, "data-iterations", (v) => Number(v) >= 2);
      await page.locator('.connection[data-state="open"]').waitFor();

      await front.stop();
      await page.locator('.connection[data-state="connecting"]').waitFor();
      const whenDown = (await metrics(core, token, run.id)).length;
      // The run goes on while the API is down.
      await waitFor(
        () => metrics(core, token, run.id).then((p) => p.length),
        (n) => n >= whenDown + 5,
        "iterations while the API is down",
      );
      front = await startFront();
      await page.locator('.connection[data-state="open"]').waitFor();

      t.is((await core.request("POST", `/api/v1/runs/${run.id}/stop`, { token })).status, 200);
      await waitForStatus(core, token, run.id, ["stopped"]);
      const stored = await metrics(core, token, run.id);
      await waitForAttribute(page, chart, "data-iterations", (v) => Number(v) === stored.length);
      await page.locator('.page-head [data-status="stopped"]').waitFor();
      await page.locator('.connection[data-state="open"]').waitFor();
      t.deepEqual(
        w.errors.filter((e) => !WHILE_DOWN.test(e)),
        [],
        "no console error but the refused connections while the API was down",
      );
      await w.context.close();
    },
  );
}
