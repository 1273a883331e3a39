import anyTest from "ava";
import { useTestPlatform } from "../helpers/platform.ts";
import { allowLongTest } from "../helpers/wait.ts";
import { browserUnavailable, horizontalOverflow, screenshot, useBrowser, type Watched } from "./helpers.ts";
import { SCREENS, seedTour, TOUR_PAGES, TOUR_SERVICES, type Tour, tourSessions, visit } from "./tour.ts";

/**
 * Issue 18: every page of the dashboard, seeded with data as in use, at a laptop's 1280 px and a
 * phone's 390 px: no console error, page error or CSP violation, no failed request, and no sideways
 * scrolling of the page (a wide table scrolls inside its own box). Screenshots of each go to
 * test-artifacts/web/pages-*.png.
 */
const skip = browserUnavailable();
if (skip) anyTest.skip(`browser tests: ${skip}`, () => {});
else suite();

/** The outermost elements that reach past the right edge of the viewport, for the failure message. */
async function pastTheEdge(w: Watched): Promise<string> {
  return JSON.stringify(
    await w.page.evaluate(`[...document.querySelectorAll("body *")]
      .filter((el) => el.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
      .filter((el) => {
        for (let a = el.parentElement; a && a !== document.body; a = a.parentElement)
          if (getComputedStyle(a).overflowX !== "visible" || a.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5) return false;
        return true;
      })
      .map((el) => el.tagName.toLowerCase() + (el.className ? "." + String(el.className).split(" ").join(".") : "") + " " + Math.round(el.getBoundingClientRect().right) + "px")`),
  );
}

function suite() {
  const api = useTestPlatform(anyTest, TOUR_SERVICES);
  const browser = useBrowser(anyTest);
  // Seeded by the first test (ava runs hooks side by side: a hook of its own could start before the platform).
  let ready: Promise<{ tour: Tour; session: ReturnType<typeof tourSessions> }> | undefined;
  const seeded = () =>
    (ready ??= seedTour(api()).then((tour) => ({ tour, session: tourSessions(browser(), api().url, tour) })));

  for (const tourPage of TOUR_PAGES) {
    anyTest.serial(`${tourPage.name} (${tourPage.as}) at 1280 and 390 px`, async (t) => {
      allowLongTest(t);
      const { tour, session } = await seeded();
      for (const screen of SCREENS) {
        const w = await session(tourPage.as, screen);
        const errors = w.errors.length;
        const failed = w.failedResponses.length;
        const path = await visit(w, api().url, tourPage, tour);
        await screenshot(w.page, `pages-${tourPage.name}-${screen.width}`, { fullPage: !tourPage.long });
        const overflow = await horizontalOverflow(w.page);
        t.true(
          overflow <= 0,
          `${overflow} px of horizontal overflow on ${path} at ${screen.width} px: ${await pastTheEdge(w)}`,
        );
        // What scrolls sideways inside its own box, for the record (allowed: the page itself does not).
        const scrolling = (await w.page.evaluate(`[...document.querySelectorAll("main *")]
          .filter((el) => el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === "auto")
          .map((el) => el.className + " " + (el.scrollWidth - el.clientWidth) + "px")`)) as string[];
        if (scrolling.length > 0) t.log(`${screen.width} px: scrolls inside ${scrolling.join(", ")}`);
        t.deepEqual(w.errors.slice(errors), [], `console errors on ${path} at ${screen.width} px`);
        t.deepEqual(w.failedResponses.slice(failed), [], `failed requests on ${path} at ${screen.width} px`);
      }
    });
  }
}
