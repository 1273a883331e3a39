import anyTest from "ava";
import { TEST_ADMIN, useTestPlatform } from "../helpers/platform.ts";
import { holdWorkerSlots } from "../runs/helpers.ts";
import { createSweep, SWEEP_SERVICES, tinySweep, waitForSweep } from "../sweeps/helpers.ts";
import {
  assertClean,
  assertFitsAt,
  browserUnavailable,
  loginThroughForm,
  openPage,
  screenshot,
  useBrowser,
  waitForAttribute,
} from "./helpers.ts";

/** Sweeps in the browser: the list, the trials table sorted by metric, the metric against each parameter. */
const skip = browserUnavailable();
if (skip) anyTest.skip(`browser tests: ${skip}`, () => {});
else suite();

function suite() {
  const api = useTestPlatform(anyTest, { ...SWEEP_SERVICES, SERVICES: `${SWEEP_SERVICES.SERVICES},tickets` });
  const browser = useBrowser(anyTest);

  /** A fresh account made a researcher (sweeps are theirs), and its access token. */
  async function researcher() {
    const me = await api().register();
    const admin = await api().login(TEST_ADMIN.email, TEST_ADMIN.password);
    await api().request("PATCH", `/api/v1/users/${me.user.id}`, {
      token: admin.accessToken,
      body: { role: "researcher" },
    });
    return { me, token: (await api().login(me.email, me.password)).accessToken };
  }

  anyTest.serial(
    "a researcher sees a sweep's trials live, sorts them by metric and sees one chart per parameter",
    async (t) => {
      const { me, token } = await researcher();
      // The sweep's trials wait in queued while the page loads: however slow the load, the sweep
      // cannot have ended before the page watches it run.
      const slots = await holdWorkerSlots(api());
      const sweep = await createSweep(api(), token, tinySweep(120));

      const w = await openPage(browser());
      const { page } = w;
      await loginThroughForm(page, api().url, me.email, me.password);
      await page.getByRole("link", { name: "Sweeps" }).click();
      await page.locator(`tr[data-sweep-id="${sweep.id}"]`).waitFor();
      await page.getByRole("link", { name: "tiny grid" }).click();
      await page.getByRole("heading", { name: "tiny grid" }).waitFor();
      t.is(await page.locator("table.trials tbody tr").count(), 4);
      await page.locator('.page-head [data-status="running"]').waitFor();
      await slots.release();
      await page.locator('table.trials tbody tr[data-status="running"]').first().waitFor();
      const stepsAtFirst = await page.locator("table.trials tbody").textContent();

      // The page follows the sweep by itself until it completes.
      await waitForSweep(api(), token, sweep.id, ["completed"]);
      await page.locator('.page-head [data-status="completed"]').waitFor();
      await page.locator("[data-best-trial]").waitFor();
      t.not(
        await page.locator("table.trials tbody").textContent(),
        stepsAtFirst,
        "the table moved by itself",
      );

      // The last column is the evaluation of each trial's final policy.
      const evaluations = (await page.locator("table.trials tbody tr td:last-child").allTextContents()).map(
        Number,
      );
      t.true(
        evaluations.every((v) => v >= 1 && v <= 500),
        JSON.stringify(evaluations),
      );
      // Sorted by final metric, best first (the default); a click on the header reverses it.
      const finals = async () =>
        (await page.locator("table.trials tbody tr td:nth-last-child(2)").allTextContents()).map(Number);
      const descending = await finals();
      t.deepEqual(
        descending,
        [...descending].sort((a, b) => b - a),
      );
      await page.getByRole("button", { name: /final charts\/episodic_return/ }).click();
      const ascending = await finals();
      t.deepEqual(
        ascending,
        [...ascending].sort((a, b) => a - b),
      );
      t.is(await page.locator("th[aria-sort=ascending]").count(), 1);
      // By trial number: ascending on the first click, descending on the second.
      const indices = async () =>
        (await page.locator("table.trials tbody tr td:first-child").allTextContents()).map(Number);
      await page.getByRole("button", { name: "#", exact: true }).click();
      t.deepEqual(await indices(), [0, 1, 2, 3]);
      await page.getByRole("button", { name: /^#/ }).click();
      t.deepEqual(await indices(), [3, 2, 1, 0]);

      const scatters = page.locator('figure[data-chart^="charts-episodic-return-vs-"]');
      t.is(await scatters.count(), 2);
      // Every trial is a dot, two that share a value included.
      t.deepEqual(await scatters.evaluateAll((els) => els.map((el) => el.getAttribute("data-points"))), [
        "4",
        "4",
      ]);
      // The trials' learning curves overlaid, one legend entry per trial, and on to the compare page.
      const CURVES = 'figure[data-chart="learning-curves"]';
      await waitForAttribute(page, CURVES, "data-series", (v) => v === "4");
      t.deepEqual(
        await page
          .locator(`${CURVES} .chart-legend li`)
          .evaluateAll((lis) => lis.map((li) => li.getAttribute("data-curve"))),
        ["#0", "#1", "#2", "#3"],
      );
      await screenshot(page, "sweep");
      // The trials table stays within the page at 1280 and 390 px: it scrolls in its own box.
      for (const width of [1280, 390]) await assertFitsAt(t, page, width);
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.getByRole("link", { name: "Compare trials" }).click();
      await page.waitForURL(/\/compare\?sweep=/);
      await page.getByRole("heading", { name: "Compare trials: tiny grid" }).waitFor();
      await waitForAttribute(page, 'figure[data-chart="comparison"]', "data-series", (v) => v === "4");
      assertClean(t, w);
      await w.context.close();
    },
  );

  anyTest.serial(
    "a log-sampled parameter is plotted on a log axis, a uniform one on a linear axis",
    async (t) => {
      const { me, token } = await researcher();
      const sweep = await createSweep(
        api(),
        token,
        tinySweep(2, {
          name: "random lr",
          method: "random",
          searchSpace: { learningRate: { loguniform: [1e-4, 1e-2] }, clipCoef: { uniform: [0.1, 0.3] } },
          maxTrials: 2,
        }),
      );
      await waitForSweep(api(), token, sweep.id, ["completed"]);
      const w = await openPage(browser());
      const { page } = w;
      await loginThroughForm(page, api().url, me.email, me.password);
      await page.goto(`${api().url}/sweeps/${sweep.id}`);
      const lr = 'figure[data-chart="charts-episodic-return-vs-learningrate"]';
      await waitForAttribute(page, lr, "data-x-scale", (v) => v === "log");
      await waitForAttribute(
        page,
        'figure[data-chart="charts-episodic-return-vs-clipcoef"]',
        "data-x-scale",
        (v) => v === "linear",
      );
      t.is(await page.locator(lr).getAttribute("data-points"), "2");
      await screenshot(page, "sweep-log-axis");
      assertClean(t, w);
      await w.context.close();
    },
  );
}
