import anyTest from "ava";
import { SOLUTIONS } from "../exercises/solutions.ts";
import { useTestPlatform } from "../helpers/platform.ts";
import { browserUnavailable, loginThroughForm, openPage, screenshot, useBrowser } from "./helpers.ts";

/** Exercises in the browser: statement, editor, a wrong then a right answer, per-test results, progress. */
const skip = browserUnavailable();
if (skip) anyTest.skip(`browser tests: ${skip}`, () => {});
else suite();

function suite() {
  const api = useTestPlatform(anyTest, {
    SERVICES: "api,users,tickets,submissions",
    SUBMISSIONS_POOL_SIZE: "1",
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
      await result.and(page.locator('[data-status="failed"]')).waitFor({ timeout: 60_000 });
      const failedTests = await result.locator('li[data-passed="false"]').count();
      t.true(failedTests > 0);
      await screenshot(page, "exercise-failed");

      await editor.click();
      await page.keyboard.press("ControlOrMeta+a");
      await page.keyboard.press("Delete");
      await page.keyboard.insertText(SOLUTIONS["discounted-returns"]!.trim());
      await page.getByRole("button", { name: "Submit" }).click();
      await result.and(page.locator('[data-status="passed"]')).waitFor({ timeout: 60_000 });
      t.is(await result.locator('li[data-passed="false"]').count(), 0);
      t.true((await result.locator('li[data-passed="true"]').count()) >= failedTests);
      await screenshot(page, "exercise-passed");

      // The draft survives a reload.
      await page.reload();
      await page.locator(".cm-content").waitFor();
      t.regex((await page.locator(".cm-content").textContent()) ?? "", /g = rewards\[t\] \+ gamma \* g/);

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
}
