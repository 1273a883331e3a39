import path from "node:path";
import anyTest from "ava";
import type { Page } from "playwright-core";
import type { RunReplay } from "../../contracts/replay.ts";
import { useTestPlatform } from "../helpers/platform.ts";
import { getRun, holdWorkerSlots, launch, RUN_SERVICES, tinyRun, waitForStatus } from "../runs/helpers.ts";
import {
  ARTIFACTS,
  assertClean,
  browserUnavailable,
  loginThroughForm,
  openPage,
  screenshot,
  useBrowser,
  waitForAttribute,
} from "./helpers.ts";

/**
 * "Watch the agent" on the run page, in Chromium against a real platform: the recorded evaluation
 * episode plays on the canvas (its frames advance, and pausing stops them), the return shown is the
 * run's recorded evaluation return, and every kind of scene draws.
 */
const skip = browserUnavailable();
if (skip) anyTest.skip(`browser tests: ${skip}`, () => {});
const test = anyTest.serial;
if (!skip) suite();

function suite() {
  const api = useTestPlatform(anyTest, {
    ...RUN_SERVICES,
    WORKER_SLOTS: "4",
    SERVICES: "api,users,runs,workers,tickets",
  });
  const browser = useBrowser(anyTest);

  const PLAYER = "section.replay";
  const stepOf = async (page: Page) => Number(await page.locator(PLAYER).getAttribute("data-step"));
  const pixels = (page: Page) =>
    page.locator(`${PLAYER} canvas`).evaluate((c) => (c as unknown as { toDataURL(): string }).toDataURL());
  /** Waits for `n` frames the page renders (not a time): what an animation would have drawn by then. */
  const renderedFrames = (page: Page, n: number) =>
    page.evaluate(
      `new Promise((resolve) => { let k = 0; const f = () => (++k >= ${n} ? resolve(k) : requestAnimationFrame(f)); requestAnimationFrame(f); })`,
    );

  test("the run page plays the final policy's evaluation episode: frames advance, pause stops them, the return is the recorded evaluation's", async (t) => {
    const me = await api().learner();
    const token = me.tokens.accessToken;
    const run = await launch(api(), token, tinyRun(3));
    const done = await waitForStatus(api(), token, run.id, ["completed", "failed"]);
    t.is(done.status, "completed", done.failureReason ?? "");
    const returns = done.evaluation!.returns;

    const w = await openPage(browser());
    const { page } = w;
    await loginThroughForm(page, api().url, me.email, me.password);
    await page.goto(`${api().url}/runs/${run.id}`);
    // Episode 0 by default: the return shown is the recorded evaluation's returns[0].
    await waitForAttribute(page, PLAYER, "data-return", (v) => v !== null);
    t.is(await page.locator(PLAYER).getAttribute("data-return"), String(returns[0]));
    t.is(await page.locator(`${PLAYER} .replay-return`).textContent(), String(returns[0]));
    t.is(await stepOf(page), 0);

    // The longest episode of the evaluation plays longest: there is time to pause it half way.
    const longest = returns.indexOf(Math.max(...returns));
    await page.getByLabel("Episode", { exact: true }).selectOption(String(longest));
    await waitForAttribute(page, PLAYER, "data-episode", (v) => v === String(longest));
    t.is(await page.locator(PLAYER).getAttribute("data-return"), String(returns[longest]));
    const replay = (
      await api().request<RunReplay>("GET", `/api/v1/runs/${run.id}/replay?episode=${longest}`, { token })
    ).body;
    t.true(replay.length >= 8, `episode ${longest} lasts ${replay.length} steps`);
    const first = await pixels(page);

    await page.getByLabel("Speed", { exact: true }).selectOption("0.25");
    await page.getByRole("button", { name: "Play", exact: true }).click();
    await waitForAttribute(page, PLAYER, "data-step", (v) => Number(v) >= 1);
    t.not(await pixels(page), first, "the canvas shows another frame");
    await page.getByRole("button", { name: "Pause", exact: true }).click();
    t.is(await page.locator(PLAYER).getAttribute("data-playing"), "false");
    const paused = await stepOf(page);
    const pausedPixels = await pixels(page);
    t.true(paused >= 1 && paused < replay.length);
    await renderedFrames(page, 30);
    t.is(await stepOf(page), paused, "no frame advanced while paused");
    t.is(await pixels(page), pausedPixels);
    // The step's reward and the return so far are the recorded ones.
    const soFar = replay.rewards.slice(0, paused).reduce((a, b) => a + b, 0);
    t.is(await page.locator(`${PLAYER} .replay-so-far`).textContent(), String(soFar));
    t.is(await page.locator(`${PLAYER} .replay-reward`).textContent(), String(replay.rewards[paused - 1]));
    await screenshot(page, "replay-cartpole");

    // Played on to the end at 4×: the return so far reaches the episode's return.
    await page.getByLabel("Speed", { exact: true }).selectOption("4");
    await page.getByRole("button", { name: "Play", exact: true }).click();
    await waitForAttribute(page, PLAYER, "data-step", (v) => Number(v) === replay.length);
    await waitForAttribute(page, PLAYER, "data-playing", (v) => v === "false");
    t.is(await page.locator(`${PLAYER} .replay-so-far`).textContent(), String(returns[longest]));
    assertClean(t, w);
    t.deepEqual(w.failedResponses, [], "no request failed");
    await w.context.close();
  });

  test("a run without a checkpoint says so; when it completes, its final policy's episode loads by itself", async (t) => {
    const me = await api().learner();
    const token = me.tokens.accessToken;
    // The run waits in queued while the page loads: it has no checkpoint when the page first reads it.
    const slots = await holdWorkerSlots(api());
    // Released however the checks end: the next test needs the slots.
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      await slots.release();
    };
    t.teardown(release);
    const run = await launch(api(), token, tinyRun(2));
    const w = await openPage(browser());
    const { page } = w;
    await loginThroughForm(page, api().url, me.email, me.password);
    await page.goto(`${api().url}/runs/${run.id}`);
    await page.locator('.page-head [data-status="queued"]').waitFor();
    await page.locator(PLAYER).getByText("No checkpoint yet").waitFor();
    t.true(await page.getByRole("button", { name: "Replay the latest checkpoint" }).isDisabled());
    t.true(await page.getByRole("button", { name: "Play", exact: true }).isDisabled());

    await release();
    const done = await waitForStatus(api(), token, run.id, ["completed", "failed"]);
    t.is(done.status, "completed", done.failureReason ?? "");
    await waitForAttribute(page, PLAYER, "data-return", (v) => v === String(done.evaluation!.returns[0]));
    t.false(await page.getByRole("button", { name: "Play", exact: true }).isDisabled());
    assertClean(t, w);
    t.deepEqual(w.failedResponses, [], "no request failed");
    await w.context.close();
  });

  test("the player draws every kind of scene: Acrobot, MountainCar, Pendulum, and MuJoCo robots from the side and from above", async (t) => {
    const me = await api().learner();
    const token = me.tokens.accessToken;
    const small = { numEnvs: 2, numSteps: 32, numMinibatches: 2, updateEpochs: 1 };
    const envs = [
      "Acrobot-v1",
      "MountainCar-v0",
      "Pendulum-v1",
      "Hopper-v5",
      "InvertedDoublePendulum-v5",
      "Reacher-v5",
    ];
    const runs = [];
    // One at a time: a learner's active runs are limited.
    for (const env of envs) {
      const run = await launch(api(), token, { env, seed: 1, totalSteps: 64, hyperparameters: small });
      const done = await waitForStatus(api(), token, run.id, ["completed", "failed"]);
      t.is(done.status, "completed", `${env}: ${done.failureReason ?? ""}`);
      runs.push(run);
    }
    const w = await openPage(browser());
    const { page } = w;
    await loginThroughForm(page, api().url, me.email, me.password);
    for (const run of runs) {
      const { evaluation } = await getRun(api(), token, run.id);
      await page.goto(`${api().url}/runs/${run.id}`);
      await waitForAttribute(page, PLAYER, "data-return", (v) => v === String(evaluation!.returns[0]));
      // Half way through the episode, the picture is more than a blank canvas, and not the first one.
      const first = await pixels(page);
      const slider = page.getByLabel("Step", { exact: true });
      const half = Math.floor(Number(await slider.getAttribute("max")) / 2);
      await slider.fill(String(half));
      await waitForAttribute(page, PLAYER, "data-step", (v) => Number(v) === half);
      const inked = await page.locator(`${PLAYER} canvas`).evaluate((c) => {
        const canvas = c as unknown as {
          width: number;
          height: number;
          getContext(k: "2d"): {
            getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
          };
        };
        const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
        let n = 0;
        for (let i = 0; i < data.length; i += 4)
          if (data[i]! < 200 || data[i + 1]! < 200 || data[i + 2]! < 200) n++;
        return n;
      });
      t.true(inked > 500, `${run.env}: ${inked} drawn pixels`);
      t.not(await pixels(page), first, `${run.env}: the robot moved`);
      await page.locator(PLAYER).screenshot({ path: path.join(ARTIFACTS, `replay-${run.env}.png`) });
    }
    // On a phone, the player fits the page: the canvas shrinks, the controls wrap.
    await page.setViewportSize({ width: 390, height: 800 });
    const fits = await page.locator(PLAYER).evaluate((el) => {
      const e = el as unknown as {
        scrollWidth: number;
        clientWidth: number;
        getBoundingClientRect(): { right: number };
      };
      return e.scrollWidth <= e.clientWidth && e.getBoundingClientRect().right <= 390;
    });
    t.true(fits, "the player fits a 390 px page");
    await screenshot(page, "replay-390");
    assertClean(t, w);
    t.deepEqual(w.failedResponses, [], "no request failed");
    await w.context.close();
  });
}
