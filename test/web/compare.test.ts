import { readFile } from "node:fs/promises";
import anyTest from "ava";
import type { PublicMetricPoint } from "../../contracts/runs.ts";
import { useTestPlatform } from "../helpers/platform.ts";
import { waitUntil } from "../helpers/wait.ts";
import { launch, metrics, RUN_SERVICES, tinyRun, waitForStatus } from "../runs/helpers.ts";
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

/**
 * The chart component in a real browser: three runs overlaid on the compare page (picked on the runs
 * list), smoothing, log scale, hover read-out and the long CSV; the run page's losses on two axes.
 */
const skip = browserUnavailable();
if (skip) anyTest.skip(`browser tests: ${skip}`, () => {});
else suite();

/** Pixels of the chart's canvas within a small distance of each colour (in the page; a string, as the test is typed without the DOM). */
function pixelsNear(figure: string, colors: string[]): string {
  return `(() => {
    const canvas = document.querySelector(${JSON.stringify(`${figure} canvas`)});
    const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    const targets = ${JSON.stringify(colors)}.map((c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)));
    const counts = targets.map(() => 0);
    for (let p = 0; p < data.length; p += 4) {
      if (data[p + 3] < 200) continue;
      targets.forEach(([r, g, b], k) => {
        if (Math.abs(data[p] - r) + Math.abs(data[p + 1] - g) + Math.abs(data[p + 2] - b) < 60) counts[k]++;
      });
    }
    return counts;
  })()`;
}

const canvasImage = (figure: string) =>
  `document.querySelector(${JSON.stringify(`${figure} canvas`)}).toDataURL()`;

function suite() {
  const api = useTestPlatform(anyTest, { ...RUN_SERVICES, SERVICES: "api,users,runs,workers,tickets" });
  const browser = useBrowser(anyTest);
  const CHART = 'figure[data-chart="comparison"]';

  anyTest.serial(
    "three runs picked on the runs list are overlaid; smoothing, log scale, hover and the long CSV work",
    async (t) => {
      const me = await api().learner();
      const token = me.tokens.accessToken;
      const runs = [];
      // One at a time: a learner may have two active runs.
      for (const seed of [1, 2, 3]) {
        const run = await launch(api(), token, tinyRun(5, { seed }));
        await waitForStatus(api(), token, run.id, ["completed"]);
        runs.push(run);
      }
      const stored = new Map<string, PublicMetricPoint[]>();
      for (const run of runs) stored.set(run.id, await metrics(api(), token, run.id));

      const w = await openPage(browser());
      const { page } = w;
      await loginThroughForm(page, api().url, me.email, me.password);
      for (const run of runs) await page.getByLabel(`Compare ${run.id.slice(0, 8)}`).check();
      await page.getByRole("button", { name: "Compare (3)" }).click();
      await page.waitForURL(/\/compare\?/);
      t.is(new URL(page.url()).searchParams.get("runs"), runs.map((r) => r.id).join(","));

      // Three curves, three legend entries, each drawn in its own colour.
      await waitForAttribute(page, CHART, "data-series", (v) => v === "3");
      await waitForAttribute(page, CHART, "data-smoothing", (v) => v === "0.6");
      t.deepEqual(
        await page
          .locator(`${CHART} .chart-legend li`)
          .evaluateAll((lis) => lis.map((li) => li.getAttribute("data-curve"))),
        runs.map((r) => r.id.slice(0, 8)),
      );
      const colors = await page
        .locator(`${CHART} .swatch`)
        .evaluateAll((els) => els.map((el) => el.getAttribute("style") ?? ""));
      const hex = colors.map(
        (rgb) =>
          `#${(rgb.match(/\d+/g) ?? [])
            .slice(0, 3)
            .map((n: string) => Number(n).toString(16).padStart(2, "0"))
            .join("")}`,
      );
      t.is(new Set(hex).size, 3, "three colours");
      const drawn = (await page.evaluate(pixelsNear(CHART, hex))) as number[];
      t.true(
        drawn.every((n) => n >= 20),
        `pixels of each run's colour on the canvas: ${drawn}`,
      );
      await screenshot(page, "compare");

      // The legend reads the latest values before any hover, and every curve at the hovered x after.
      t.is(await page.locator(`${CHART} .legend-x`).textContent(), "latest");
      const box = (await page.locator(`${CHART} .u-over`).boundingBox())!;
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.locator(`${CHART} .legend-x`, { hasText: /^at / }).waitFor();
      const values = await page.locator(`${CHART} .legend-value`).allTextContents();
      t.is(values.length, 3);
      t.true(
        values.every((v) => /^-?[\d.]+/.test(v)),
        JSON.stringify(values),
      );
      await page.mouse.move(0, 0);

      // The smoothing slider changes the drawn path: none, then heavy.
      const atDefault = await page.evaluate(canvasImage(CHART));
      await page.getByLabel("Smoothing").fill("0");
      await waitForAttribute(page, CHART, "data-smoothing", (v) => v === "0");
      const unsmoothed = await page.evaluate(canvasImage(CHART));
      await page.getByLabel("Smoothing").fill("0.95");
      await waitForAttribute(page, CHART, "data-smoothing", (v) => v === "0.95");
      const heavy = await page.evaluate(canvasImage(CHART));
      t.not(unsmoothed, atDefault);
      t.not(heavy, unsmoothed);
      t.not(heavy, atDefault);
      t.is(new URL(page.url()).searchParams.get("smoothing"), "0.95", "the view is kept in the address");

      // Log scale: the y axis goes to whole powers of ten; values ≤ 0 are counted, not drawn.
      await page.getByLabel("Metric").selectOption("losses/value_loss");
      await page.locator(`${CHART} figcaption`, { hasText: "losses/value_loss" }).waitFor();
      await page.getByLabel("Y axis").selectOption("log");
      await waitForAttribute(page, CHART, "data-y-scale", (v) => v === "log");
      const [lo, hi] = ((await page.locator(CHART).getAttribute("data-y-range")) ?? "")
        .split(" ")
        .map(Number);
      t.true(
        Number.isInteger(Math.round(Math.log10(lo!) * 1e9) / 1e9) &&
          Number.isInteger(Math.round(Math.log10(hi!) * 1e9) / 1e9),
        `log range ${lo}..${hi}`,
      );
      const valueLosses = [...stored.values()].flat().map((p) => p.metrics["losses/value_loss"] ?? null);
      t.true(valueLosses.every((v) => v === null || (v >= lo! && v <= hi!)));
      await page.getByLabel("Metric").selectOption("losses/policy_loss");
      const nonPositive = [...stored.values()]
        .flat()
        .filter((p) => (p.metrics["losses/policy_loss"] ?? 1) <= 0).length;
      await waitForAttribute(page, CHART, "data-hidden-on-log", (v) => Number(v) === nonPositive);
      if (nonPositive > 0)
        await page.locator(`${CHART} .chart-summary`, { hasText: "not drawn on the log axis" }).waitFor();

      // X as wall time and as time since each run's start.
      await page.getByLabel("X axis").selectOption("relative");
      await waitForAttribute(page, CHART, "data-x-scale", (v) => v === "relative");
      await page.getByLabel("X axis").selectOption("wall");
      await waitForAttribute(page, CHART, "data-x-scale", (v) => v === "wall");

      // The long CSV is the API's data, every run, point and key.
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("button", { name: "Download CSV" }).click(),
      ]);
      const text = await readFile((await download.path())!, "utf8");
      const lines = text.trimEnd().split("\r\n");
      t.is(lines[0], "run,step,key,value");
      const rows = lines.slice(1).map((line) => {
        const [run, step, key, value] = line.split(",");
        return [run, Number(step), key, Number(value)];
      });
      const expected = runs.flatMap((run) =>
        stored.get(run.id)!.flatMap((p) =>
          Object.keys(p.metrics)
            .sort()
            .filter((k) => p.metrics[k] !== null)
            .map((k) => [run.id, p.globalStep, k, p.metrics[k]]),
        ),
      );
      t.true(expected.length > 3 * 5 * 4);
      t.deepEqual(rows, expected);

      for (const width of [1280, 390]) await assertFitsAt(t, page, width);
      await screenshot(page, "compare-phone");
      // With nothing picked, the page says how to pick.
      await page.goto(`${api().url}/compare`);
      await page.getByText("No runs to compare").waitFor();
      t.deepEqual(w.failedResponses, []);
      assertClean(t, w);
      await w.context.close();
    },
  );

  anyTest.serial(
    "the run page draws policy and value loss on axes of their own, with values before any hover",
    async (t) => {
      const me = await api().learner();
      const token = me.tokens.accessToken;
      const run = await launch(api(), token, tinyRun(4));
      await waitForStatus(api(), token, run.id, ["completed"]);
      const points = await metrics(api(), token, run.id);
      const policy = points.map((p) => p.metrics["losses/policy_loss"]).filter((v): v is number => v != null);
      const value = points.map((p) => p.metrics["losses/value_loss"]).filter((v): v is number => v != null);

      const w = await openPage(browser());
      const { page } = w;
      await loginThroughForm(page, api().url, me.email, me.password);
      await page.goto(`${api().url}/runs/${run.id}`);
      const LOSSES = 'figure[data-chart="losses"]';
      await waitForAttribute(page, LOSSES, "data-points", (v) => Number(v) === points.length);
      await waitForAttribute(page, LOSSES, "data-y2-range", (v) => (v ?? "") !== "");
      const range = async (attr: string) =>
        ((await page.locator(LOSSES).getAttribute(attr)) ?? "").split(" ").map(Number) as [number, number];
      await waitUntil(
        async () => (await range("data-y-range"))[1] >= Math.max(...policy),
        "the policy axis drawn",
      );
      const [pLo, pHi] = await range("data-y-range");
      const [vLo, vHi] = await range("data-y2-range");
      t.true(
        policy.every((v) => v >= pLo && v <= pHi),
        `policy axis ${pLo}..${pHi}`,
      );
      t.true(
        value.every((v) => v >= vLo && v <= vHi),
        `value axis ${vLo}..${vHi}`,
      );
      // The policy axis spans the policy loss, not the value loss (~100× larger here).
      t.true(
        pHi - pLo < Math.max(...value) / 2,
        `policy axis ${pLo}..${pHi}, value loss up to ${Math.max(...value)}`,
      );

      // The legend shows the latest values, not "--", until a hover picks another x.
      t.is(await page.locator(`${LOSSES} .legend-x`).textContent(), "latest");
      const legend = await page.locator(`${LOSSES} .legend-value`).allTextContents();
      t.is(legend.length, 2);
      t.true(
        legend.every((v) => /^-?[\d.]/.test(v)),
        JSON.stringify(legend),
      );
      const KL = 'figure[data-chart="approx-kl"]';
      const box = (await page.locator(`${KL} .u-over`).boundingBox())!;
      await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
      await page.locator(`${KL} .legend-x`, { hasText: /^at .* steps$/ }).waitFor();

      for (const width of [1280, 390]) await assertFitsAt(t, page, width);
      await screenshot(page, "run-charts-phone");
      assertClean(t, w);
      await w.context.close();
    },
  );
}
