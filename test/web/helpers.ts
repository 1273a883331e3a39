import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { TestFn } from "ava";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { buildWeb } from "../../web/build.ts";
import { DEFAULT_DEADLINE_MS, WaitTimeoutError, waitFor } from "../helpers/wait.ts";

/**
 * Browser tests: headless Chromium (Debian's package) driven by playwright-core, against a real
 * platform. Every page records its console errors, uncaught exceptions and CSP violations; a test
 * calls `assertClean` to fail on any of them. Network responses with an error status that a test
 * provokes on purpose (a 422 from a bad form) are listed apart, so that the test can say which it
 * expected.
 */
export const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
export const ARTIFACTS = path.resolve("test-artifacts", "web");

/** Why the browser tests cannot run here, or null when they can. On CI a missing browser is a failure. */
export function browserUnavailable(): string | null {
  if (existsSync(CHROMIUM)) return null;
  if (process.env["CI"]) return null;
  return `${CHROMIUM} is missing (apt-get install chromium); set CI=1 to make this a failure`;
}

export interface Watched {
  page: Page;
  context: BrowserContext;
  /** Console errors, page errors and CSP violations, in order. */
  errors: string[];
  /** "STATUS METHOD path" of every response with status ≥ 400. */
  failedResponses: string[];
}

/** One browser per test file (tests in it run serially), built dashboard guaranteed. */
export function useBrowser(test: TestFn): () => Browser {
  let browser: Browser | undefined;
  test.before(async () => {
    await buildWeb();
    await mkdir(ARTIFACTS, { recursive: true });
    // As root (CI containers), Chromium refuses to start with its sandbox.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"], headless: true });
  });
  test.after.always(async () => {
    await browser?.close();
  });
  return () => {
    if (!browser) throw new Error("the browser did not start (did test.before fail?)");
    return browser;
  };
}

export async function openPage(
  browser: Browser,
  opts: { width?: number; height?: number; isMobile?: boolean } = {},
): Promise<Watched> {
  const context = await browser.newContext({
    viewport: { width: opts.width ?? 1280, height: opts.height ?? 900 },
    isMobile: opts.isMobile ?? false,
    hasTouch: opts.isMobile ?? false,
    acceptDownloads: true,
  });
  // Playwright's 30 s default is a deadline a loaded machine reaches; every wait gets the suite's own.
  context.setDefaultTimeout(DEFAULT_DEADLINE_MS);
  const page = await context.newPage();
  const errors: string[] = [];
  const failedResponses: string[] = [];
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const text = message.text();
    // Chromium logs every error response as "Failed to load resource"; those are checked apart.
    if (/^Failed to load resource: the server responded with a status of \d+/.test(text)) return;
    errors.push(`console: ${text}`);
  });
  page.on("pageerror", (err) => errors.push(`pageerror: ${err.message}`));
  page.on("response", (response) => {
    if (response.status() >= 400) {
      const url = new URL(response.url());
      failedResponses.push(`${response.status()} ${response.request().method()} ${url.pathname}`);
    }
  });
  // A string, not a function: this runs in the page, and the test code is typed without the DOM.
  await page.addInitScript(`document.addEventListener("securitypolicyviolation", (e) => {
    console.error("CSP violation: " + e.violatedDirective + " " + e.blockedURI);
  });`);
  return { page, context, errors, failedResponses };
}

/** Fails the test on any console error, page error or CSP violation the page recorded. */
export function assertClean(
  t: { deepEqual: (a: unknown, b: unknown, m?: string) => void },
  w: Watched,
): void {
  t.deepEqual(w.errors, [], "no console errors, page errors or CSP violations");
}

/**
 * How many CSS pixels the document is wider than its viewport (≤ 0: it fits). A wide table or chart
 * must scroll inside its own box (`.table-wrap`), never make the page scroll sideways.
 */
export async function horizontalOverflow(page: Page): Promise<number> {
  return Number(
    await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"),
  );
}

/** Resizes the page to `width` and fails the test if the document is wider than that. */
export async function assertFitsAt(
  t: { true: (v: boolean, m?: string) => void },
  page: Page,
  width: number,
  what = page.url(),
): Promise<void> {
  await page.setViewportSize({ width, height: page.viewportSize()?.height ?? 900 });
  const overflow = await horizontalOverflow(page);
  t.true(overflow <= 0, `${overflow} px of horizontal overflow on ${what} at ${width} px`);
}

/** Waits until an attribute of the first element matching `selector` satisfies `done`. */
export function waitForAttribute(
  page: Page,
  selector: string,
  attribute: string,
  done: (value: string | null) => boolean,
  timeoutMs = DEFAULT_DEADLINE_MS,
): Promise<string | null> {
  const element = page.locator(selector).first();
  return waitFor(
    () => element.getAttribute(attribute, { timeout: timeoutMs }),
    done,
    `${selector} [${attribute}] to change`,
    timeoutMs,
  ).catch(async (err: unknown) => {
    // A timeout says what the element showed then (its data-* state, its text: a status, an error,
    // a button's label), so that a failure seen once in CI can be read, not guessed.
    if (!(err instanceof WaitTimeoutError)) throw err;
    const seen = await element
      .evaluate((e) => {
        const el = e as unknown as { dataset: Record<string, string>; textContent: string };
        return JSON.stringify({
          data: { ...el.dataset },
          text: el.textContent.replace(/\s+/g, " ").slice(0, 400),
        });
      })
      .catch((e: unknown) => `(unreadable: ${String(e)})`);
    throw new WaitTimeoutError(`${err.message}; the element then: ${String(seen)}`);
  });
}

/** The whole page as test-artifacts/web/NAME.png, or with `fullPage: false` what the viewport shows. */
export async function screenshot(page: Page, name: string, { fullPage = true } = {}): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage });
}

/** Logs in through the form (the session cookie is set as for a person). */
export async function loginThroughForm(page: Page, base: string, email: string, password: string) {
  await page.goto(`${base}/login`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(`${base}/runs`);
}
