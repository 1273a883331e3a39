import anyTest from "ava";
import { useTestPlatform } from "../helpers/platform.ts";
import { RUN_SERVICES } from "../runs/helpers.ts";
import { browserUnavailable, loginThroughForm, openPage, screenshot, useBrowser } from "./helpers.ts";

/**
 * Forms flag every invalid field at once, each under its input, in plain language: never the
 * validator's own words ("Too small: expected string to have >=1 characters").
 */
const skip = browserUnavailable();
if (skip) anyTest.skip(`browser tests: ${skip}`, () => {});
const test = anyTest.serial;
if (!skip) suite();

const RAW = /Too (small|big)|expected (string|number|int)|Invalid (input|email)/;

function suite() {
  // submissions: the new-run form lists the learner's own environments.
  const api = useTestPlatform(anyTest, {
    ...RUN_SERVICES,
    SERVICES: "api,users,runs,workers,tickets,submissions",
    SUBMISSIONS_POOL_SIZE: "1",
  });
  const browser = useBrowser(anyTest);

  test("registration: an empty name and a bad email are both flagged, in plain words", async (t) => {
    const w = await openPage(browser());
    const { page } = w;
    await page.goto(`${api().url}/register`);
    await page.getByLabel("Name").fill("");
    await page.getByLabel("Email").fill("not-an-email");
    await page.getByLabel("Password").fill("a long passphrase");
    await page.getByRole("button", { name: "Create account" }).click();

    const name = page.locator('[data-field="name"] .field-error');
    const email = page.locator('[data-field="email"] .field-error');
    await name.filter({ hasText: /\S/ }).waitFor();
    t.is(await name.textContent(), "must not be empty");
    t.regex((await email.textContent()) ?? "", /^must be a(n| valid) email address/);
    t.is(await page.getByLabel("Name").getAttribute("aria-invalid"), "true");
    t.is(await page.getByLabel("Email").getAttribute("aria-invalid"), "true");
    t.notRegex((await page.locator("form").textContent()) ?? "", RAW);
    await screenshot(page, "register-errors");
    t.deepEqual(w.failedResponses, ["422 POST /api/v1/auth/register"]);
    t.deepEqual(w.errors, []);
    await w.context.close();
  });

  test("new run: a bad total, a bad seed and a bad learning rate are flagged together", async (t) => {
    const me = await api().register();
    const w = await openPage(browser());
    const { page } = w;
    await loginThroughForm(page, api().url, me.email, me.password);
    await page.goto(`${api().url}/runs/new`);
    await page.getByLabel("Total steps").fill("");
    await page.getByLabel("learningRate").fill("-1");
    await page.getByLabel("Seed").fill("1.5");
    await page.getByRole("button", { name: "Launch" }).click();

    const total = page.locator('[data-field="totalSteps"] .field-error');
    await total.filter({ hasText: /\S/ }).waitFor();
    t.is(await total.textContent(), "must not be empty");
    t.is(
      await page.locator('[data-field="hyperparameters.learningRate"] .field-error').textContent(),
      "must be greater than 0",
    );
    t.is(await page.locator('[data-field="seed"] .field-error').textContent(), "must be a whole number");
    for (const label of ["Total steps", "learningRate", "Seed"]) {
      t.is(await page.getByLabel(label).getAttribute("aria-invalid"), "true", label);
    }
    // The first of them in the form's order has the focus.
    t.is(
      await page.evaluate('document.activeElement.closest("[data-field]").getAttribute("data-field")'),
      "totalSteps",
    );
    t.regex(page.url(), /\/runs\/new$/);
    t.notRegex((await page.locator("form").textContent()) ?? "", RAW);
    await screenshot(page, "new-run-all-errors");
    t.deepEqual(w.failedResponses, ["422 POST /api/v1/runs"]);
    t.deepEqual(w.errors, []);
    await w.context.close();
  });
}
