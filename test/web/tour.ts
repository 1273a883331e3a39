import type { Browser } from "playwright-core";
import type { PublicRun } from "../../contracts/runs.ts";
import type { SweepWithTrials } from "../../contracts/sweeps.ts";
import { SOLUTIONS } from "../exercises/solutions.ts";
import { TEST_ADMIN, type TestPlatform } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";
import { getRun, launch, tinyRun, waitForStatus } from "../runs/helpers.ts";
import { graded, submit } from "../submissions/helpers.ts";
import { createSweep, SWEEP_SERVICES, tinySweep, waitForSweep } from "../sweeps/helpers.ts";
import { loginThroughForm, openPage, type Watched } from "./helpers.ts";

/**
 * The dashboard tour: a platform seeded with what each page shows when it is in use (a researcher's
 * named and tagged runs, a queued run, a finished sweep, a learner's graded submissions, the admin's
 * view of them), and every page of the dashboard with what to wait for before it is looked at. The
 * page-by-page browser test (pages.test.ts) and the screenshots of docs/screenshots/
 * (scripts/screenshots.ts) both take it, so that the pictures show what the test checked.
 */
export const TOUR_SERVICES = {
  ...SWEEP_SERVICES,
  SERVICES: "api,users,runs,workers,sweeps,tickets,submissions",
  SUBMISSIONS_POOL_SIZE: "1",
} as const;

export type Viewer = "visitor" | "researcher" | "learner" | "admin";

export interface Account {
  email: string;
  password: string;
  id: string;
}

export interface Tour {
  researcher: Account;
  learner: Account;
  admin: Account;
  /** Completed, named and tagged CartPole runs of the researcher. */
  runs: PublicRun[];
  /** A GPU run that waits in the queue (no GPU worker is up), with its place and reason. */
  queued: PublicRun;
  sweep: SweepWithTrials;
}

async function account(api: TestPlatform, name: string, role: "learner" | "researcher"): Promise<Account> {
  const me = await api.register({ name });
  if (role !== "learner") {
    const admin = await api.loginAdmin();
    const res = await api.request("PATCH", `/api/v1/users/${me.user.id}`, {
      token: admin.accessToken,
      body: { role },
    });
    if (res.status !== 200) throw new Error(`role change: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return { email: me.email, password: me.password, id: me.user.id };
}

/**
 * Seeds the tour's data and waits until it has settled (runs and sweep ended, submissions graded), so
 * that a page shows the same thing however long it takes to get there. `iterations` sizes the runs
 * (128 env steps each): a few for a test, more for screenshots whose curves should show learning.
 */
export async function seedTour(api: TestPlatform, iterations = 6): Promise<Tour> {
  const researcher = await account(api, "Ada Lovelace", "researcher");
  const learner = await account(api, "Grace Hopper", "learner");
  const adminToken = (await api.loginAdmin()).accessToken;
  const adminMe = await api.request<{ id: string }>("GET", "/api/v1/me", { token: adminToken });
  const admin = { email: TEST_ADMIN.email, password: TEST_ADMIN.password, id: adminMe.body.id };

  const token = (await api.login(researcher.email, researcher.password)).accessToken;
  const learnerToken = (await api.login(learner.email, learner.password)).accessToken;
  const sweep = await createSweep(api, token, tinySweep(iterations));
  const launched = [
    await launch(
      api,
      token,
      tinyRun(iterations, {
        seed: 1,
        name: "cartpole baseline",
        tags: ["cartpole", "baseline"],
        notes: "Default hyperparameters, seed 1: what the other runs are compared with.",
      }),
    ),
    await launch(
      api,
      token,
      tinyRun(iterations, {
        seed: 2,
        name: "higher learning rate",
        tags: ["cartpole", "lr-3e-3"],
        hyperparameters: { ...tinyRun(1).hyperparameters, learningRate: 3e-3 },
      }),
    ),
  ];
  const queued = await launch(
    api,
    token,
    tinyRun(iterations, { name: "waits for a GPU", tags: ["gpu"], resources: { gpu: true } }),
  );
  // A learner's own run, and their failed then passed answers to one exercise.
  const learnerRun = await launch(api, learnerToken, tinyRun(2, { name: "my first run" }));
  for (const code of [
    "function discountedReturns(rewards, gamma) { return rewards.slice(); }",
    SOLUTIONS["discounted-returns"]!,
  ]) {
    const submission = await submit(api, learnerToken, "discounted-returns", code);
    await graded(api, learnerToken, submission.id);
  }

  const runs = [];
  for (const run of launched) runs.push(await waitForStatus(api, token, run.id, ["completed"], 300_000));
  await waitForStatus(api, learnerToken, learnerRun.id, ["completed"], 300_000);
  const done = await waitForSweep(api, token, sweep.id, ["completed"], 300_000);
  const waiting = await waitFor(
    () => getRun(api, token, queued.id),
    (r) => r.queue !== null,
    "the GPU run's place in the queue",
  );
  return { researcher, learner, admin, runs, queued: waiting, sweep: done };
}

export interface TourPage {
  /** The file name of its screenshot, and how the test names it. */
  name: string;
  as: Viewer;
  path: (tour: Tour) => string;
  /** Selectors that all match once the page has rendered the data it loads. */
  ready: (tour: Tour) => string[];
  /** Also photographed at phone width for docs/screenshots/. */
  phone?: boolean;
  /** Too long to be photographed whole (the API reference): only what the viewport shows. */
  long?: boolean;
}

const CHART_DRAWN = (chart: string) => `figure[data-chart="${chart}"]:not([data-points="0"])`;

/**
 * Every page of the dashboard (web/src/main.ts's routes, its "not allowed" and "not found"), and the
 * API's own documentation page.
 */
export const TOUR_PAGES: TourPage[] = [
  {
    name: "login",
    as: "visitor",
    path: () => "/login",
    ready: () => ["form button[type=submit]"],
    phone: true,
  },
  { name: "register", as: "visitor", path: () => "/register", ready: () => ["form button[type=submit]"] },
  { name: "api-docs", as: "visitor", path: () => "/api/v1/docs", ready: () => ["h1"], long: true },
  {
    name: "runs",
    as: "researcher",
    path: () => "/runs",
    ready: (t) => [
      `tr[data-run-id="${t.queued.id}"] .queue-place`,
      // Each row reads its latest return after the list has come.
      ...t.runs.map((r) => `tr[data-run-id="${r.id}"] td.num:text-matches("[0-9]")`),
    ],
    phone: true,
  },
  { name: "new-run", as: "researcher", path: () => "/runs/new", ready: () => ["[data-quota]:not(:empty)"] },
  {
    name: "run",
    as: "researcher",
    path: (t) => `/runs/${t.runs[0]!.id}`,
    // The charts drawn, and the replay of its evaluation episode loaded (the player sets its return).
    ready: () => [
      ...["episodic-return", "losses", "explained-variance"].map(CHART_DRAWN),
      "section.replay[data-return]",
    ],
    phone: true,
  },
  {
    name: "run-queued",
    as: "researcher",
    path: (t) => `/runs/${t.queued.id}`,
    ready: () => ['.kv dd:has-text("no GPU worker is up")'],
  },
  {
    name: "compare",
    as: "researcher",
    path: (t) => `/compare?runs=${t.runs.map((r) => r.id).join(",")}`,
    ready: (t) => [`${CHART_DRAWN("comparison")}[data-series="${t.runs.length}"]`],
    phone: true,
  },
  {
    name: "sweeps",
    as: "researcher",
    path: () => "/sweeps",
    ready: (t) => [`tr[data-sweep-id="${t.sweep.id}"]`],
  },
  {
    name: "sweep",
    as: "researcher",
    path: (t) => `/sweeps/${t.sweep.id}`,
    ready: (t) => [
      "[data-best-trial]",
      `${CHART_DRAWN("learning-curves")}[data-series="${t.sweep.trials.length}"]`,
      ...Object.keys(tinySweep(1).searchSpace).map((p) =>
        CHART_DRAWN(`charts-episodic-return-vs-${p.toLowerCase()}`),
      ),
    ],
    phone: true,
  },
  {
    name: "compare-trials",
    as: "researcher",
    path: (t) => `/compare?sweep=${t.sweep.id}`,
    ready: (t) => [`${CHART_DRAWN("comparison")}[data-series="${t.sweep.trials.length}"]`],
  },
  { name: "workers", as: "researcher", path: () => "/admin/workers", ready: () => ["tr[data-node]"] },
  { name: "exercises", as: "learner", path: () => "/exercises", ready: () => ["tr[data-exercise]"] },
  {
    name: "exercise",
    as: "learner",
    path: () => "/exercises/discounted-returns",
    ready: () => ['section[aria-label="Your submissions"] [data-best]', ".cm-content"],
    phone: true,
  },
  {
    name: "progress",
    as: "learner",
    path: () => "/progress",
    ready: () => ['tr[data-exercise="discounted-returns"] [data-status="passed"]'],
  },
  {
    name: "users",
    as: "admin",
    path: () => "/admin/users",
    ready: (t) => [`tr[data-user-id="${t.learner.id}"]`],
  },
  {
    name: "user",
    as: "admin",
    path: (t) => `/admin/users/${t.learner.id}`,
    ready: () => ['[data-field="concurrentRuns"][data-effective]'],
  },
  {
    name: "all-progress",
    as: "admin",
    path: () => "/admin/progress",
    ready: (t) => [`tr[data-user-id="${t.learner.id}"]`],
  },
  // What a learner sees at an admin's address, and anyone at an address with no page.
  {
    name: "not-allowed",
    as: "learner",
    path: () => "/admin/users",
    ready: () => ['h1:text-is("Not allowed")'],
  },
  {
    name: "not-found",
    as: "researcher",
    path: () => "/no-such-page",
    ready: () => ['main p:has-text("Nothing here")'],
  },
];

/** A laptop's screen and a phone's (CSS pixels; the phone with touch and its viewport meta honoured). */
export const SCREENS = [
  { name: "laptop", width: 1280, height: 800, isMobile: false },
  { name: "phone", width: 390, height: 844, isMobile: true },
] as const;
export type Screen = (typeof SCREENS)[number];

/**
 * One page per viewer and screen, logged in on first use and reused from page to page as a person
 * would; each records its console errors and failed requests (helpers.ts `openPage`).
 */
export function tourSessions(browser: Browser, base: string, tour: Tour) {
  const sessions = new Map<string, Watched>();
  return async (as: Viewer, screen: Screen): Promise<Watched> => {
    const key = `${as}@${screen.name}`;
    let w = sessions.get(key);
    if (!w) {
      w = await openPage(browser, screen);
      if (as !== "visitor") {
        await loginThroughForm(w.page, base, tour[as].email, tour[as].password);
        // Live updates connected before the first page change, which would otherwise cut the handshake.
        await w.page.locator('.connection[data-state="open"]').waitFor();
      }
      sessions.set(key, w);
    }
    return w;
  };
}

/** Opens a tour page and waits until it shows its data; returns its path. */
export async function visit(w: Watched, base: string, tourPage: TourPage, tour: Tour): Promise<string> {
  const path = tourPage.path(tour);
  await w.page.goto(`${base}${path}`);
  for (const selector of tourPage.ready(tour)) await w.page.locator(selector).first().waitFor();
  return path;
}
