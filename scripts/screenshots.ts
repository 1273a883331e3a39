/**
 * `npm run screenshots`: docs/screenshots/NAME.png of every dashboard page at 1280 × 800, and
 * NAME-phone.png of the key ones at 390 × 844: what the viewport shows, not the whole page, to keep
 * the files small. The platform and its data are the browser test's (test/web/tour.ts), with longer
 * runs so that the curves show learning; it needs what that test needs: PostgreSQL at
 * TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres, a throwaway database is
 * created and dropped) and Chromium at CHROMIUM_PATH (default /usr/bin/chromium). Re-run it after a
 * page changes; it overwrites the pictures and fails on a page that logs an error.
 */
import { mkdir, stat } from "node:fs/promises";
import path from "node:path";
import { chromium } from "playwright-core";
import { startTestPlatform } from "../test/helpers/platform.ts";
import { CHROMIUM } from "../test/web/helpers.ts";
import { SCREENS, seedTour, TOUR_PAGES, TOUR_SERVICES, tourSessions, visit } from "../test/web/tour.ts";
import { buildWeb } from "../web/build.ts";

const OUT = path.resolve(import.meta.dirname, "../docs/screenshots");
/** Iterations of 128 env steps per seeded run: enough for CartPole's return to climb visibly. */
const ITERATIONS = 30;

await mkdir(OUT, { recursive: true });
await buildWeb();
const platform = await startTestPlatform(null, TOUR_SERVICES);
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"], headless: true });
try {
  const tour = await seedTour(platform, ITERATIONS);
  const session = tourSessions(browser, platform.url, tour);
  let bytes = 0;
  for (const screen of SCREENS) {
    for (const page of TOUR_PAGES) {
      if (screen.name === "phone" && !page.phone) continue;
      const w = await session(page.as, screen);
      const errors = w.errors.length;
      const where = await visit(w, platform.url, page, tour);
      // Nothing focused: a focused field's ring and caret would differ from picture to picture.
      await w.page.evaluate(
        "document.activeElement && document.activeElement.blur && document.activeElement.blur()",
      );
      if (w.errors.length > errors) throw new Error(`${where}: ${w.errors.slice(errors).join("; ")}`);
      const file = path.join(OUT, `${page.name}${screen.name === "phone" ? "-phone" : ""}.png`);
      await w.page.screenshot({ path: file });
      const size = (await stat(file)).size;
      bytes += size;
      console.log(`${path.relative(process.cwd(), file)}  ${(size / 1024).toFixed(0)} KiB`);
    }
  }
  console.log(`${(bytes / 1024 / 1024).toFixed(2)} MiB in all`);
} finally {
  await browser.close();
  await platform.stop();
}
