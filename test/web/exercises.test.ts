import anyTest from "ava";
import { SOLUTIONS } from "../exercises/solutions.ts";
import { useTestPlatform } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";
import { browserUnavailable, loginThroughForm, openPage, screenshot, useBrowser } from "./helpers.ts";

/** Exercises in the browser: statement, editor, a wrong then a right answer, per-test results, progress. */
const skip = browserUnavailable();
if (skip) anyTest.skip(`browser tests: ${skip}`, () => {});
else suite();

function suite() {
  const api = useTestPlatform(anyTest, {
    SERVICES: "api,users,tickets,submissions,runs,workers",
    SUBMISSIONS_POOL_SIZE: "1",
    RUN_SCHEDULE_INTERVAL_MS: "100",
  });
  const browser = useBrowser(anyTest);

  anyTest.serial(
    "a wrong then a right answer: the per-test results change, and progress counts the pass",
    async (t) => {
      const me = await api().register();
      const w = await openPage(browser());
      const { page } = w;
      await loginThroughForm(page, api().url, me.email, me.password);
      await page.getByRole("link", { name: "Exercises" }).click();
      await page.getByRole("link", { name: "Discounted returns" }).click();
      await page.getByRole("heading", { name: "Discounted returns", level: 1 }).waitFor();
      // The statement is rendered from Markdown (a heading of its own, code spans).
      t.true((await page.locator("article.statement h2, article.statement code").count()) > 0);
      const editor = page.locator(".cm-content");
      await editor.waitFor();
      t.regex((await editor.textContent()) ?? "", /TODO: walk the episode backwards/);
      await screenshot(page, "exercise");

      // The starter code returns zeros: graded, failed, with the failing tests named.
      await page.getByRole("button", { name: "Submit" }).click();
      const result = page.locator('section[aria-label="Result"]');
      await result.and(page.locator('[data-status="failed"]')).waitFor();
      const failedTests = await result.locator('li[data-passed="false"]').count();
      t.true(failedTests > 0);
      await screenshot(page, "exercise-failed");

      await editor.click();
      await page.keyboard.press("ControlOrMeta+a");
      await page.keyboard.press("Delete");
      await page.keyboard.insertText(SOLUTIONS["discounted-returns"]!.trim());
      await page.getByRole("button", { name: "Submit" }).click();
      await result.and(page.locator('[data-status="passed"]')).waitFor();
      t.is(await result.locator('li[data-passed="false"]').count(), 0);
      t.true((await result.locator('li[data-passed="true"]').count()) >= failedTests);
      await screenshot(page, "exercise-passed");

      // The draft survives a reload, and so does the learner's history: latest first, the best score.
      await page.reload();
      await page.locator(".cm-content").waitFor();
      t.regex((await page.locator(".cm-content").textContent()) ?? "", /g = rewards\[t\] \+ gamma \* g/);
      const history = page.locator('section[aria-label="Your submissions"]');
      await history.locator("tbody tr").nth(1).waitFor();
      t.is(await history.locator("tbody tr").count(), 2);
      t.is(await history.locator("tbody tr").nth(0).locator("[data-status]").textContent(), "passed");
      t.is(await history.locator("tbody tr").nth(1).locator("[data-status]").textContent(), "failed");
      t.regex(
        (await history.locator("[data-best]").textContent()) ?? "",
        /^Best: (\d+) \/ \1 points passed after 2 graded submissions\.$/,
      );
      // An earlier submission's result can be shown again.
      await history.locator("tbody tr").nth(1).getByRole("button").click();
      await result.and(page.locator('[data-status="failed"]')).waitFor();
      await screenshot(page, "exercise-history");

      await page.getByRole("link", { name: "My progress" }).click();
      await page
        .locator('[data-metric="passed"]')
        .filter({ hasText: /^1 of \d+$/ })
        .waitFor();
      await page.locator('tr[data-exercise="discounted-returns"] [data-status="passed"]').waitFor();
      await screenshot(page, "progress");
      t.deepEqual(w.errors, []);
      await w.context.close();
    },
  );

  anyTest.serial(
    "statements show their maths typeset by KaTeX, its fonts from our origin, under the strict CSP",
    async (t) => {
      const me = await api().register();
      const w = await openPage(browser());
      const { page } = w;
      const fonts: string[] = [];
      page.on("response", (r) => {
        if (r.url().endsWith(".woff2")) fonts.push(`${r.status()} ${r.headers()["content-type"]} ${r.url()}`);
      });
      await loginThroughForm(page, api().url, me.email, me.password);
      await page.goto(`${api().url}/exercises/advantage-normalization`);
      const statement = page.locator("article.statement");
      await statement.locator(".katex").first().waitFor();
      // One displayed formula and two inline ones ($n-1$, $10^{-8}$); no TeX source left as text.
      t.is(await statement.locator(".katex-display").count(), 1);
      t.is(await statement.locator(".katex").count(), 3);
      t.false(((await statement.textContent()) ?? "").includes("$"));
      // KaTeX's layout arrived through the CSSOM (the CSP refuses style attributes): the struts have
      // their heights, the fraction's rows their offsets, and no data-katex-style is left unapplied.
      const display = statement.locator(".katex-display");
      t.not(
        await display.locator(".katex-strut").first().evaluate("(e) => getComputedStyle(e).height"),
        "0px",
      );
      t.not(
        await display.locator(".vlist > span").first().evaluate("(e) => getComputedStyle(e).top"),
        "auto",
      );
      t.is(await statement.locator("[data-katex-style]").count(), 0);
      // KaTeX's fonts load, from our own origin, as woff2.
      await page.evaluate("document.fonts.ready.then(() => true)");
      const loaded = await page.evaluate(
        '[...document.fonts].filter((f) => f.family.replace(/"/g, "") === "KaTeX_Main" && f.status === "loaded").length',
      );
      t.true(Number(loaded) > 0);
      t.true(fonts.length > 0);
      for (const f of fonts) t.true(f.startsWith(`200 font/woff2 ${api().url}/assets/`), f);
      await screenshot(page, "exercise-katex");
      t.deepEqual(w.errors, []);
      t.deepEqual(w.failedResponses, []);
      await w.context.close();
    },
  );

  anyTest.serial(
    "an environment of one's own: the starter code passes its checks, and its env id leads to a run on it",
    async (t) => {
      const me = await api().register();
      const w = await openPage(browser());
      const { page } = w;
      await loginThroughForm(page, api().url, me.email, me.password);
      await page.goto(`${api().url}/exercises/custom-environment`);
      await page.getByRole("heading", { name: "Bring your own environment", level: 1 }).waitFor();
      await page.locator(".cm-content").waitFor();
      await page.getByRole("button", { name: "Submit" }).click();
      const result = page.locator('section[aria-label="Result"]');
      await result.and(page.locator('[data-status="passed"]')).waitFor();
      const envId = await result.locator("[data-env-id]").getAttribute("data-env-id");
      t.regex(envId ?? "", /^custom:[0-9a-f-]{36}$/);
      await screenshot(page, "custom-env-passed");

      await result.getByRole("link", { name: "train on it" }).click();
      await page.waitForURL(/\/runs\/new\?env=/);
      await page.locator(`select[name="env"] option[value="${envId}"]`).waitFor({ state: "attached" });
      await waitForSelected(page, envId!);
      await page.getByLabel("Total steps").fill(String(128 * 3));
      await page.getByLabel("numEnvs").fill("4");
      await page.getByLabel("numSteps").fill("32");
      await page.getByLabel("numMinibatches").fill("2");
      await page.getByRole("button", { name: "Launch" }).click();
      await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
      const runId = page.url().split("/").at(-1)!;
      const run = await api().request<{ env: string }>("GET", `/api/v1/runs/${runId}`, {
        token: (await api().login(me.email, me.password)).accessToken,
      });
      t.is(run.body.env, envId ?? "");
      t.deepEqual(w.errors, []);
      await w.context.close();
    },
  );
}

/** Waits until the run form's environment select shows `value` (it is listed once the page fetched it). */
async function waitForSelected(page: import("playwright-core").Page, value: string): Promise<void> {
  const select = page.locator('select[name="env"]');
  await waitFor(
    () => select.inputValue(),
    (shown) => shown === value,
    `the env select to show ${value}`,
  );
}
