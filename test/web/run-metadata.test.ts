import { readFile } from "node:fs/promises";
import anyTest from "ava";
import { useTestPlatform } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";
import { getRun, launch, metrics, tinyRun, waitForStatus } from "../runs/helpers.ts";
import { SWEEP_SERVICES, sweepWithFirstRun, waitForSweep } from "../sweeps/helpers.ts";
import {
  assertClean,
  assertFitsAt,
  browserUnavailable,
  loginThroughForm,
  openPage,
  screenshot,
  useBrowser,
} from "./helpers.ts";

/** A run's name, tags and notes in the dashboard, its metrics download, and sweeps' trials in the runs list. */
const skip = browserUnavailable();
if (skip) anyTest.skip(`browser tests: ${skip}`, () => {});
const test = anyTest.serial;
if (!skip) suite();

function suite() {
  const api = useTestPlatform(anyTest, {
    ...SWEEP_SERVICES,
    SERVICES: "api,users,runs,workers,sweeps,tickets",
  });
  const browser = useBrowser(anyTest);

  test("the run page edits a run's name and tags, flags a bad tag in words, and downloads the metrics CSV the API serves", async (t) => {
    const me = await api().learner();
    const token = me.tokens.accessToken;
    const run = await launch(api(), token, tinyRun(3, { name: "before", tags: ["old"] }));
    await waitForStatus(api(), token, run.id, ["completed"]);
    const w = await openPage(browser());
    const { page } = w;
    await loginThroughForm(page, api().url, me.email, me.password);
    await page.goto(`${api().url}/runs/${run.id}`);
    await page.locator('.page-head [data-status="completed"]').waitFor();
    await page.getByRole("heading", { level: 1, name: "before" }).waitFor();
    t.deepEqual(await page.locator(".run-meta-line .chip").allTextContents(), ["old"]);

    const form = page.getByRole("form", { name: "Name, tags and notes" });
    await form.getByLabel("Name").fill("after edit");
    await form.getByLabel("Tags").fill("ppo, fast");
    await form.getByLabel("Notes").fill("lr 3e-4 looks stable");
    await form.getByRole("button", { name: "Save" }).click();
    await page.getByRole("heading", { level: 1, name: "after edit" }).waitFor();
    await waitFor(
      () => page.locator(".run-meta-line .chip").allTextContents(),
      (chips) => chips.join() === "ppo,fast",
      "the new tags as chips",
    );
    t.like(await getRun(api(), token, run.id), {
      name: "after edit",
      tags: ["ppo", "fast"],
      notes: "lr 3e-4 looks stable",
    });

    // A bad tag: its message under the Tags box, in words, and nothing changed.
    await form.getByLabel("Tags").fill("ppo, no!good");
    await form.getByRole("button", { name: "Save" }).click();
    const error = form.locator('[data-field="tags"] .field-error');
    await waitFor(
      () => error.textContent(),
      (text) => Boolean(text),
      "the tag's error",
    );
    t.regex((await error.textContent()) ?? "", /"no!good" must be 1 to 32 letters, digits or -_\.:\//);
    t.deepEqual((await getRun(api(), token, run.id)).tags, ["ppo", "fast"]);
    t.deepEqual(w.failedResponses, [`422 PATCH /api/v1/runs/${run.id}`]);
    await screenshot(page, "run-metadata");

    // The download is the API's CSV, and that is the JSON history point for point.
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download metrics (CSV)" }).click(),
    ]);
    t.is(download.suggestedFilename(), `run-${run.id}-metrics.csv`);
    const csv = await readFile((await download.path())!, "utf8");
    const served = await api().authedFetch(token, `/api/v1/runs/${run.id}/metrics.csv`);
    t.is(csv, await served.text());
    const points = await metrics(api(), token, run.id);
    const [header, ...rows] = csv
      .trimEnd()
      .split("\r\n")
      .map((line) => line.split(","));
    const returnColumn = header!.indexOf("charts/episodic_return");
    t.deepEqual(
      rows.map((r) => [
        Number(r[0]),
        Number(r[1]),
        r[2],
        r[returnColumn] === "" ? null : Number(r[returnColumn]),
      ]),
      points.map((p) => [p.iteration, p.globalStep, p.wallTime, p.metrics["charts/episodic_return"] ?? null]),
    );

    // The list shows the name and the chips; a chip filters the list by its tag.
    await page.goto(`${api().url}/runs`);
    const row = page.locator(`tr[data-run-id="${run.id}"]`);
    await row.getByRole("link", { name: "after edit" }).waitFor();
    await row.locator(".chip", { hasText: "fast" }).click();
    await page.waitForURL(`${api().url}/runs?tag=fast`);
    await page.locator(`tr[data-run-id="${run.id}"]`).waitFor();
    t.is(await page.getByLabel("Filter by tag").inputValue(), "fast");
    await screenshot(page, "runs-by-tag");

    // The filters, chips and editor stay within the page on a phone and on a laptop.
    for (const width of [390, 1280]) {
      await page.setViewportSize({ width, height: 844 });
      for (const path of ["/runs?tag=fast", `/runs/${run.id}`]) {
        await page.goto(`${api().url}${path}`);
        await page.locator(".chip", { hasText: "fast" }).first().waitFor();
        await assertFitsAt(t, page, width, path);
      }
    }
    assertClean(t, w);
    await w.context.close();
  });

  test("the new-run form names and tags the run; a bad tag is flagged under Tags with the other bad fields at once", async (t) => {
    const me = await api().learner();
    const w = await openPage(browser());
    const { page } = w;
    await loginThroughForm(page, api().url, me.email, me.password);
    await page.goto(`${api().url}/runs/new`);
    const form = page.locator("form");
    await form.getByLabel("Name", { exact: true }).fill("first try");
    await form.getByLabel("Tags", { exact: true }).fill("baseline, not/ok!");
    await form.getByLabel("Total steps").fill("");
    await form.getByRole("button", { name: "Launch" }).click();
    const tagsError = page.locator('[data-field="tags"] .field-error');
    await tagsError.filter({ hasText: /\S/ }).waitFor();
    t.regex((await tagsError.textContent()) ?? "", /^"not\/ok!" must be/);
    t.is(await page.locator('[data-field="totalSteps"] .field-error').textContent(), "must not be empty");

    await form.getByLabel("Tags", { exact: true }).fill("baseline cartpole");
    await form.getByLabel("Total steps").fill("1024");
    await form.getByRole("button", { name: "Launch" }).click();
    await page.getByRole("heading", { level: 1, name: "first try" }).waitFor();
    t.deepEqual(await page.locator(".run-meta-line .chip").allTextContents(), ["baseline", "cartpole"]);
    // This platform runs no submissions service: the form's list of the learner's own envs is a 503.
    t.deepEqual(
      w.failedResponses.filter((r) => r.includes("/api/v1/runs")),
      ["422 POST /api/v1/runs"],
    );
    assertClean(t, w);
    await w.context.close();
  });

  test("sweeps' trials are left out of the runs list until asked for; a trial's page links to its sweep and offers no Resume", async (t) => {
    // A researcher (sweeps are theirs), who logs in through the form below.
    const account = await api().register();
    const admin = (await api().loginAdmin()).accessToken;
    const promoted = await api().request("PATCH", `/api/v1/users/${account.user.id}`, {
      token: admin,
      body: { role: "researcher" },
    });
    t.is(promoted.status, 200);
    const me = { token: (await api().login(account.email, account.password)).accessToken };
    const own = await launch(api(), me.token, tinyRun(1, { name: "not a trial" }));
    const { sweep, firstRun } = await sweepWithFirstRun(api(), me.token, "web grid");
    const trialRunId = firstRun.id;
    t.is((await api().request("POST", `/api/v1/sweeps/${sweep.id}/stop`, { token: me.token })).status, 200);
    await waitForSweep(api(), me.token, sweep.id, ["stopped"]);
    await waitForStatus(api(), me.token, trialRunId, ["stopped"]);

    const w = await openPage(browser());
    const { page } = w;
    await loginThroughForm(page, api().url, account.email, account.password);
    await page.locator(`tr[data-run-id="${own.id}"]`).waitFor();
    t.is(await page.locator(`tr[data-run-id="${trialRunId}"]`).count(), 0, "the trial is left out");
    await page.getByLabel("sweep trials").check();
    await page.waitForURL(`${api().url}/runs?trials=include`);
    await page.locator(`tr[data-run-id="${trialRunId}"]`).getByRole("link", { name: "web grid #0" }).click();

    await page.waitForURL(`${api().url}/runs/${trialRunId}`);
    await page.locator('.page-head [data-status="stopped"]').waitFor();
    const link = page.locator(`a[data-sweep-link="${sweep.id}"]`);
    await waitFor(
      () => link.textContent(),
      (text) => text === "sweep web grid",
      "the sweep's name in its link",
    );
    t.true(await page.locator('[data-action="resume"]').isHidden(), "no Resume for a trial");
    await link.click();
    await page.waitForURL(`${api().url}/sweeps/${sweep.id}`);
    assertClean(t, w);
    await w.context.close();
  });
}
