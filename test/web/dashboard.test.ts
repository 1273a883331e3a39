import { readFile } from "node:fs/promises";
import anyTest from "ava";
import * as ort from "onnxruntime-node";
import { TEST_ADMIN, TEST_PASSWORD, useTestPlatform } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";
import {
  getRun,
  holdWorkerSlots,
  launch,
  metrics,
  RUN_SERVICES,
  tinyRun,
  waitForStatus,
} from "../runs/helpers.ts";
import { DropProxy } from "./drop-proxy.ts";
import {
  assertClean,
  assertFitsAt,
  browserUnavailable,
  loginThroughForm,
  openPage,
  screenshot,
  useBrowser,
  type Watched,
  waitForAttribute,
} from "./helpers.ts";

/**
 * The dashboard in a real browser against a real platform (API, users, runs, workers, tickets in one
 * process): the flows a learner and an admin go through, each failing on any console error.
 */
const skip = browserUnavailable();
if (skip) anyTest.skip(`browser tests: ${skip}`, () => {});
const test = anyTest.serial;
if (!skip) suite();

function suite() {
  const api = useTestPlatform(anyTest, {
    ...RUN_SERVICES,
    SERVICES: "api,users,runs,workers,tickets,submissions",
    SUBMISSIONS_POOL_SIZE: "1",
  });
  const browser = useBrowser(anyTest);

  const RETURN_CHART = 'figure[data-chart="episodic-return"]';
  async function pointsOf(w: Watched): Promise<number> {
    return Number(await w.page.locator(RETURN_CHART).getAttribute("data-points"));
  }

  test("register, log in, launch a CartPole run, watch the return chart grow live, stop it, reload", async (t) => {
    const w = await openPage(browser());
    const { page } = w;
    const base = api().url;
    const email = `web-${Date.now()}@example.org`;

    await page.goto(base);
    await page.waitForURL(`${base}/login`);
    await screenshot(page, "login");
    await page.getByRole("link", { name: "Create an account" }).click();
    await page.getByLabel("Name").fill("Web Learner");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(TEST_PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.waitForURL(`${base}/runs`);
    await page.getByText("No runs yet").waitFor();

    // Log out and back in through the login form.
    await page.getByRole("button", { name: "Log out" }).click();
    await page.waitForURL(/\/login/);
    await loginThroughForm(page, base, email, TEST_PASSWORD);

    await page.getByRole("link", { name: "New run" }).click();
    await page.getByLabel("Environment").selectOption("CartPole-v1");
    // Far more than the test waits for (it stops the run): the chart must be able to grow however
    // slowly the page loads.
    await page.getByLabel("Total steps").fill(String(128 * 5_000));
    await page.getByLabel("Seed").fill("3");
    await page.getByLabel("numEnvs").fill("4");
    await page.getByLabel("numSteps").fill("32");
    await page.getByLabel("numMinibatches").fill("2");
    await page.getByLabel("updateEpochs").fill("2");
    await screenshot(page, "new-run");
    await page.getByRole("button", { name: "Launch" }).click();
    await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
    const runId = page.url().split("/").at(-1)!;

    // The return chart gains points while the page is open: they come over the WebSocket.
    await waitForAttribute(page, RETURN_CHART, "data-points", (v) => Number(v) >= 2);
    const before = await pointsOf(w);
    await waitForAttribute(page, RETURN_CHART, "data-points", (v) => Number(v) > before);
    t.true((await pointsOf(w)) > before);
    await screenshot(page, "run-live");

    await page.getByRole("button", { name: "Stop" }).click();
    await page.locator('.page-head [data-status="stopped"]').waitFor();
    t.is(await page.getByRole("button", { name: "Resume" }).isVisible(), true);
    await page.locator('.status-history [data-status="stopped"]').waitFor();

    // A reload keeps the session (refresh cookie) and the page, with its history.
    await page.reload();
    await page.locator('.page-head [data-status="stopped"]').waitFor();
    t.is(new URL(page.url()).pathname, `/runs/${runId}`);
    await waitForAttribute(page, RETURN_CHART, "data-points", (v) => Number(v) > 0);
    await page.getByRole("link", { name: "Runs", exact: true }).click();
    await page.locator(`tr[data-run-id="${runId}"] [data-status="stopped"]`).waitFor();
    await screenshot(page, "runs");

    t.deepEqual(w.failedResponses, [], "no request failed");
    assertClean(t, w);
    await w.context.close();
  });

  test("the new-run form shows the API's validation errors next to their fields", async (t) => {
    const me = await api().register();
    const w = await openPage(browser());
    const { page } = w;
    await loginThroughForm(page, api().url, me.email, me.password);
    await page.goto(`${api().url}/runs/new`);
    await page.getByLabel("numEnvs").fill("4");
    await page.getByLabel("numSteps").fill("32");
    await page.getByLabel("numMinibatches").fill("3");
    await page.getByLabel("learningRate").fill("-1");
    await page.getByRole("button", { name: "Launch" }).click();

    const minibatches = page.locator('[data-field="hyperparameters.numMinibatches"] .field-error');
    await minibatches.waitFor();
    t.regex((await minibatches.textContent()) ?? "", /must divide numEnvs × numSteps = 128/);
    t.is(await page.getByLabel("numMinibatches").getAttribute("aria-invalid"), "true");
    const lr = await page.locator('[data-field="hyperparameters.learningRate"] .field-error').textContent();
    t.truthy(lr);
    t.regex(page.url(), /\/runs\/new$/);
    await screenshot(page, "new-run-errors");
    t.deepEqual(w.failedResponses, ["422 POST /api/v1/runs"]);
    assertClean(t, w);
    await w.context.close();
  });

  test("the run page downloads a completed run's checkpoint and its policy as ONNX, which onnxruntime runs", async (t) => {
    const me = await api().learner();
    const token = me.tokens.accessToken;
    const run = await launch(api(), token, tinyRun(2));
    await waitForStatus(api(), token, run.id, ["completed"]);
    const w = await openPage(browser());
    const { page } = w;
    await loginThroughForm(page, api().url, me.email, me.password);
    await page.goto(`${api().url}/runs/${run.id}`);
    await page.locator('.page-head [data-status="completed"]').waitFor();

    const downloadOf = async (button: string) => {
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("button", { name: button }).click(),
      ]);
      return { name: download.suggestedFilename(), bytes: await readFile((await download.path())!) };
    };
    const checkpoint = await downloadOf("Download checkpoint");
    t.is(checkpoint.name, `run-${run.id}-iter-2.ckpt`);
    const policy = await downloadOf("Download policy (ONNX)");
    t.is(policy.name, `run-${run.id}-iter-2.onnx`);
    const session = await ort.InferenceSession.create(policy.bytes);
    const { action } = await session.run({ obs: new ort.Tensor("float32", new Float32Array(8), [2, 4]) });
    t.deepEqual(action!.dims, [2]);
    t.deepEqual(w.failedResponses, []);
    assertClean(t, w);
    await w.context.close();
  });

  test("a learner does not see another learner's runs, in the list or by address", async (t) => {
    const other = await api().learner();
    const theirs = await launch(api(), other.tokens.accessToken, tinyRun(1));
    const me = await api().register();
    const mine = await launch(api(), (await api().login(me.email, me.password)).accessToken, tinyRun(1));

    const w = await openPage(browser());
    const { page } = w;
    await loginThroughForm(page, api().url, me.email, me.password);
    await page.locator(`tr[data-run-id="${mine.id}"]`).waitFor();
    t.is(await page.locator(`tr[data-run-id="${theirs.id}"]`).count(), 0);

    await page.goto(`${api().url}/runs/${theirs.id}`);
    await page.getByRole("alert").filter({ hasText: "not found" }).waitFor();
    t.deepEqual(w.failedResponses, [`404 GET /api/v1/runs/${theirs.id}`]);
    assertClean(t, w);
    await w.context.close();
  });

  test("an admin sees the workers page with the pool's slots and the users page; a learner does not", async (t) => {
    const w = await openPage(browser());
    const { page } = w;
    await loginThroughForm(page, api().url, TEST_ADMIN.email, TEST_ADMIN.password);
    await page.getByRole("link", { name: "Workers" }).click();
    await page.waitForURL(/\/admin\/workers$/);
    const row = page.locator("table.workers tbody tr").first();
    await row.waitFor();
    t.regex(
      (await page.getByRole("status").filter({ hasText: "slots in use" }).textContent()) ?? "",
      /\d+ of \d+ slots in use/,
    );
    await screenshot(page, "admin-workers");
    await page.getByRole("link", { name: "Users" }).click();
    await page.locator("tbody tr").first().waitFor();
    t.true((await page.locator("tbody tr").count()) >= 1);
    await screenshot(page, "admin-users");
    assertClean(t, w);
    await w.context.close();

    const learner = await api().register();
    const l = await openPage(browser());
    await loginThroughForm(l.page, api().url, learner.email, learner.password);
    t.is(await l.page.getByRole("link", { name: "Workers" }).count(), 0);
    await l.page.goto(`${api().url}/admin/workers`);
    await l.page.getByRole("heading", { name: "Not allowed" }).waitFor();
    assertClean(t, l);
    await l.context.close();
  });

  test("the run page keeps every point across a dropped connection: it fetches what it missed, and shows the final evaluation", async (t) => {
    const me = await api().register();
    const proxy = new DropProxy(new URL(api().url));
    await proxy.start();
    t.teardown(() => proxy.close());
    const token = (await api().login(me.email, me.password)).accessToken;
    // The run waits in queued while the page loads: however slow the load, the run cannot have
    // ended before the page watches it and the connection is dropped.
    const slots = await holdWorkerSlots(api());
    const run = await launch(api(), token, tinyRun(600));

    const w = await openPage(browser());
    const { page } = w;
    await loginThroughForm(page, proxy.url, me.email, me.password);
    // Queued behind the slot holder, the run shows its place in the queue and why: in the runs list
    // (read once the scheduler has placed it) and on its page.
    const placed = await waitFor(
      () => getRun(api(), token, run.id),
      (r) => r.queue !== null,
      "the scheduler to place the run",
    );
    await page.goto(`${proxy.url}/runs`);
    const place = page.locator(`tr[data-run-id="${run.id}"] .queue-place`);
    await place.waitFor();
    t.is(await place.getAttribute("title"), placed.queue!.reason);
    t.regex(placed.queue!.reason, /^\d+(st|nd|rd|th) for 1 CPU runner; your share 0 of \d+ slots?; /);
    await page.goto(`${proxy.url}/runs/${run.id}`);
    await page.locator('.page-head [data-status="queued"]').waitFor();
    await page
      .locator("dl.kv dd", { hasText: /^\d+(st|nd|rd|th) for 1 CPU runner; your share 0 of/ })
      .waitFor();
    await page.locator('.connection[data-state="open"]').waitFor();
    await slots.release();
    await waitForAttribute(page, RETURN_CHART, "data-iterations", (v) => Number(v) >= 2);

    const seenBeforeDrop = Number(await page.locator(RETURN_CHART).getAttribute("data-iterations"));
    proxy.drop();
    await page.locator('.connection[data-state="connecting"]').waitFor();
    // The run goes on without the page: by the time the link is back it has finished.
    await waitForStatus(api(), token, run.id, ["completed"], 120_000);
    proxy.release();

    const stored = await metrics(api(), token, run.id);
    t.true(stored.length > seenBeforeDrop + 1, "iterations ran while the page was cut off");
    await waitForAttribute(page, RETURN_CHART, "data-iterations", (v) => Number(v) === stored.length);
    await page.locator('.page-head [data-status="completed"]').waitFor();
    // The completed run's details give the evaluation of its final policy.
    const { evaluation } = await getRun(api(), token, run.id);
    t.truthy(evaluation);
    await page
      .locator("dl.kv dd", {
        hasText: `${evaluation!.returnMean.toFixed(1)} ± ${evaluation!.returnStd.toFixed(1)} over 10 episodes`,
      })
      .waitFor();
    assertClean(t, w);
    await w.context.close();
  });

  test("on a phone-sized screen the runs page fits the width and the login form works from the keyboard", async (t) => {
    const me = await api().register();
    const w = await openPage(browser(), { width: 390, height: 844, isMobile: true });
    const { page } = w;
    await page.goto(`${api().url}/login`);
    await page.getByLabel("Email").focus();
    await page.keyboard.type(me.email);
    await page.keyboard.press("Tab");
    await page.keyboard.type(me.password);
    await page.keyboard.press("Enter");
    await page.waitForURL(`${api().url}/runs`);
    await assertFitsAt(t, page, 390);
    // After a page load, the first Tab reaches the skip link.
    await page.reload();
    await page.getByRole("heading", { name: "Runs" }).waitFor();
    await page.keyboard.press("Tab");
    t.is(
      await page.evaluate("document.activeElement && document.activeElement.textContent"),
      "Skip to content",
    );
    await screenshot(page, "runs-phone");
    assertClean(t, w);
    await w.context.close();
  });
}
