import type { ReplayScene, RunReplay } from "../../contracts/replay.ts";
import type { PublicRun } from "../../contracts/runs.ts";
import { ApiError } from "./api.ts";
import { api, errorBox } from "./app.ts";
import { fmtNumber, h } from "./dom.ts";

/**
 * "Watch the agent": an evaluation episode of a run's latest checkpoint, recorded by the server
 * (GET /runs/:id/replay: the deterministic policy, each step's drawing state and reward), played
 * back on a canvas with play/pause, speed and a step slider. The page runs no RL code: it draws
 * states. The classic-control scenes follow Gymnasium 1.3's renderers
 * (`gymnasium/envs/classic_control/{cartpole,acrobot,mountain_car,pendulum}.py`, `render`):
 * their sizes, scales and colours, in a 600 × 400 picture; a MuJoCo robot is its capsules, seen
 * from the side or from above.
 */
const WIDTH = 600;
const HEIGHT = 400;
const SPEEDS = [0.25, 0.5, 1, 2, 4];

type Ctx = CanvasRenderingContext2D;
const rgb = (r: number, g: number, b: number) => `rgb(${r}, ${g}, ${b})`;

/** Gymnasium draws with y up and flips the surface at the end; so does every scene here. */
function worldUp(ctx: Ctx): void {
  // The canvas holds WIDTH × HEIGHT picture units at the screen's pixel density (see replaySection).
  const density = ctx.canvas.width / WIDTH;
  ctx.setTransform(density, 0, 0, density, 0, 0);
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, WIDTH, HEIGHT);
  ctx.translate(0, HEIGHT);
  ctx.scale(1, -1);
}

/** A rectangle l..r × b..t rotated by `angle` about the origin, then moved to (x, y) (pygame's `rotate_rad`). */
function rotatedRect(
  ctx: Ctx,
  x: number,
  y: number,
  angle: number,
  l: number,
  r: number,
  t: number,
  b: number,
) {
  ctx.save();
  ctx.translate(x, y);
  ctx.rotate(angle);
  ctx.fillRect(l, b, r - l, t - b);
  ctx.restore();
}

function disc(ctx: Ctx, x: number, y: number, radius: number, color: string): void {
  ctx.fillStyle = color;
  ctx.beginPath();
  ctx.arc(x, y, radius, 0, 2 * Math.PI);
  ctx.fill();
}

function line(ctx: Ctx, x1: number, y1: number, x2: number, y2: number, color = "#000000", width = 1): void {
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  ctx.beginPath();
  ctx.moveTo(x1, y1);
  ctx.lineTo(x2, y2);
  ctx.stroke();
}

/** cartpole.py: a 4.8-unit track over the width, cart 50 × 30 at height 100, pole 10 wide and 2·length long. */
function drawCartPole(ctx: Ctx, [x = 0, , theta = 0]: number[]): void {
  const scale = WIDTH / (2.4 * 2);
  const polewidth = 10;
  const polelen = scale * (2 * 0.5);
  const cartwidth = 50;
  const cartheight = 30;
  const cartx = x * scale + WIDTH / 2;
  const carty = 100;
  const axleoffset = cartheight / 4;
  line(ctx, 0, carty, WIDTH, carty);
  ctx.fillStyle = rgb(0, 0, 0);
  ctx.fillRect(cartx - cartwidth / 2, carty - cartheight / 2, cartwidth, cartheight);
  ctx.fillStyle = rgb(202, 152, 101);
  rotatedRect(
    ctx,
    cartx,
    carty + axleoffset,
    -theta,
    -polewidth / 2,
    polewidth / 2,
    polelen - polewidth / 2,
    -polewidth / 2,
  );
  disc(ctx, cartx, carty + axleoffset, polewidth / 2, rgb(129, 132, 203));
}

/** acrobot.py: links of length 1 from a fixed joint, the goal line at height 1, bound 2.2 around. */
function drawAcrobot(ctx: Ctx, [th1 = 0, th2 = 0]: number[]): void {
  const scale = HEIGHT / (2.2 * 2);
  const ox = WIDTH / 2;
  const oy = HEIGHT / 2;
  line(ctx, -2.2 * scale + ox, 1 * scale + oy, 2.2 * scale + ox, 1 * scale + oy);
  // Gymnasium's p1, p2 with (x, y) swapped: the chain hangs down at θ = 0.
  const p1 = [Math.sin(th1), -Math.cos(th1)];
  const p2 = [p1[0]! + Math.sin(th1 + th2), p1[1]! - Math.cos(th1 + th2)];
  const joints = [[0, 0], p1, p2];
  const thetas = [th1 - Math.PI / 2, th1 + th2 - Math.PI / 2];
  for (let i = 0; i < 2; i++) {
    const [x, y] = joints[i]!;
    ctx.fillStyle = rgb(0, 204, 204);
    rotatedRect(ctx, x! * scale + ox, y! * scale + oy, thetas[i]!, 0, scale, 0.1 * scale, -0.1 * scale);
    disc(ctx, x! * scale + ox, y! * scale + oy, 0.1 * scale, rgb(204, 204, 0));
  }
}

/** mountain_car.py: the hill sin(3x)·0.45 + 0.55 over [−1.2, 0.6], a 40 × 20 car tilted along it, the flag. */
function drawMountainCar(ctx: Ctx, [pos = 0]: number[], goal: number): void {
  const minPosition = -1.2;
  const scale = WIDTH / (0.6 - minPosition);
  const height = (x: number) => Math.sin(3 * x) * 0.45 + 0.55;
  const clearance = 10;
  ctx.strokeStyle = rgb(0, 0, 0);
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (let i = 0; i < 100; i++) {
    const x = minPosition + (i * (0.6 - minPosition)) / 99;
    const px = (x - minPosition) * scale;
    if (i === 0) ctx.moveTo(px, height(x) * scale);
    else ctx.lineTo(px, height(x) * scale);
  }
  ctx.stroke();
  const cx = (pos - minPosition) * scale;
  const cy = clearance + height(pos) * scale;
  const angle = Math.cos(3 * pos);
  ctx.fillStyle = rgb(0, 0, 0);
  rotatedRect(ctx, cx, cy, angle, -20, 20, 20, 0);
  for (const wx of [10, -10]) {
    disc(ctx, cx + wx * Math.cos(angle), cy + wx * Math.sin(angle), 20 / 2.5, rgb(128, 128, 128));
  }
  const flagx = (goal - minPosition) * scale;
  const flagy1 = height(goal) * scale;
  const flagy2 = flagy1 + 50;
  line(ctx, flagx, flagy1, flagx, flagy2);
  ctx.fillStyle = rgb(204, 204, 0);
  ctx.beginPath();
  ctx.moveTo(flagx, flagy2);
  ctx.lineTo(flagx, flagy2 - 10);
  ctx.lineTo(flagx + 25, flagy2 - 5);
  ctx.fill();
}

/** pendulum.py: a rod of length 1 (0.2 wide) at angle θ + π/2 about the centre, and the torque as an arc. */
function drawPendulum(ctx: Ctx, [theta = 0]: number[], torque: number | undefined): void {
  const scale = HEIGHT / (2.2 * 2);
  const ox = WIDTH / 2;
  const oy = HEIGHT / 2;
  const rodWidth = 0.2 * scale;
  const angle = theta + Math.PI / 2;
  ctx.fillStyle = rgb(204, 77, 77);
  rotatedRect(ctx, ox, oy, angle, 0, scale, rodWidth / 2, -rodWidth / 2);
  disc(ctx, ox, oy, rodWidth / 2, rgb(204, 77, 77));
  disc(ctx, ox + scale * Math.cos(angle), oy + scale * Math.sin(angle), rodWidth / 2, rgb(204, 77, 77));
  // Gymnasium scales a "clockwise" arrow image by |u| (mirrored for u > 0, counter-clockwise): an
  // arc of that size here, three quarters of a turn, with its arrowhead the torque's way.
  if (torque !== undefined && torque !== 0) {
    const radius = (scale * Math.abs(torque)) / 4;
    const dir = Math.sign(torque);
    const start = -Math.PI / 4;
    const end = start + dir * 1.5 * Math.PI;
    ctx.strokeStyle = rgb(0, 0, 0);
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(ox, oy, radius, start, end, dir < 0);
    ctx.stroke();
    // The arrowhead: back along the tangent at the arc's end, 30° either side.
    const ex = ox + radius * Math.cos(end);
    const ey = oy + radius * Math.sin(end);
    const back = end - (dir * Math.PI) / 2;
    for (const side of [-Math.PI / 6, Math.PI / 6]) {
      line(ctx, ex, ey, ex + 8 * Math.cos(back + side), ey + 8 * Math.sin(back + side), rgb(0, 0, 0), 2);
    }
  }
  disc(ctx, ox, oy, 0.05 * scale, rgb(0, 0, 0));
}

const BODY_COLORS = ["#9ca3af", "#b45309", "#2563eb", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04"];

/** A MuJoCo robot: its geoms' centres and half-axes on the view plane (contracts/replay.ts), in metres. */
function drawMujoco(
  ctx: Ctx,
  scene: Extract<ReplayScene, { kind: "mujoco" }>,
  state: number[],
  first: number[],
) {
  const scale = HEIGHT / (2 * scene.extent);
  const halfWidth = WIDTH / 2 / scale;
  // The view's centre: the moving geoms' mean when it follows the robot, else the origin.
  const moving = scene.geoms.flatMap((g, i) => (g.body === 0 ? [] : [i]));
  const mean = (values: number[], offset: number) =>
    moving.length === 0 ? 0 : moving.reduce((a, i) => a + values[4 * i + offset]!, 0) / moving.length;
  const cu = scene.follow ? mean(state, 0) : 0;
  // Vertically: a walker's floor near the bottom; a robot that stays put, where it started, in the middle.
  const cv = !scene.follow
    ? mean(first, 1)
    : scene.view === "side" && scene.floor !== null
      ? scene.floor + (HEIGHT / 2 - 40) / scale
      : mean(state, 1);
  const px = (u: number) => WIDTH / 2 + (u - cu) * scale;
  const py = (v: number) => HEIGHT / 2 + (v - cv) * scale;
  const floorY = scene.view === "side" && scene.floor !== null ? py(scene.floor) : -1;
  if (floorY >= 0) {
    const y = floorY;
    ctx.fillStyle = "#e5e7eb";
    ctx.fillRect(0, 0, WIDTH, y);
    line(ctx, 0, y, WIDTH, y, "#6b7280", 2);
    // Marks every half metre, so that a followed robot is seen to move.
    for (let m = Math.ceil((cu - halfWidth) * 2) / 2; m <= cu + halfWidth; m += 0.5) {
      line(ctx, px(m), y, px(m), y - 8, "#6b7280");
    }
  } else if (scene.follow) {
    for (let m = Math.ceil((cu - halfWidth) * 2) / 2; m <= cu + halfWidth; m += 0.5) {
      line(ctx, px(m), 0, px(m), HEIGHT, "#f3f4f6");
    }
  }
  ctx.lineCap = "round";
  scene.geoms.forEach((g, i) => {
    const [u = 0, v = 0, au = 0, av = 0] = state.slice(4 * i, 4 * i + 4);
    const color = BODY_COLORS[g.body % BODY_COLORS.length]!;
    if (g.shape === "sphere") disc(ctx, px(u), py(v), g.radius * scale, color);
    else line(ctx, px(u - au), py(v - av), px(u + au), py(v + av), color, Math.max(1, 2 * g.radius * scale));
  });
  ctx.lineCap = "butt";
}

function drawFrame(ctx: Ctx, replay: RunReplay, k: number): void {
  worldUp(ctx);
  const state = replay.states[k]!;
  const scene = replay.scene;
  switch (scene.kind) {
    case "cartpole":
      drawCartPole(ctx, state);
      break;
    case "acrobot":
      drawAcrobot(ctx, state);
      break;
    case "mountain-car":
      drawMountainCar(ctx, state, scene.goalPosition);
      break;
    case "pendulum":
      // The torque being applied from this state on: the next step's action.
      drawPendulum(ctx, state, replay.actions[Math.min(k, replay.actions.length - 1)]?.[0]);
      break;
    case "mujoco":
      drawMujoco(ctx, scene, state, replay.states[0]!);
      break;
  }
}

export interface ReplaySection {
  element: HTMLElement;
  /** The run as the page last read it: the first checkpoint, and the run's end, load the episode. */
  update(run: PublicRun): void;
  destroy(): void;
}

export function replaySection(runId: string): ReplaySection {
  // Sharp on high-density screens: the picture's units are drawn at up to 2 device pixels each.
  const density = Math.min(2, Math.max(1, Math.round(globalThis.devicePixelRatio || 1)));
  const canvas = h("canvas", {
    class: "replay-canvas",
    width: WIDTH * density,
    height: HEIGHT * density,
    role: "img",
    "aria-label": "The agent playing",
  });
  const ctx = canvas.getContext("2d")!;
  const play = h("button", { type: "button", "data-action": "play", disabled: true }, "Play");
  const speed = h(
    "select",
    { "aria-label": "Speed" },
    SPEEDS.map((s) => h("option", { value: String(s), ...(s === 1 ? { selected: true } : {}) }, `${s}×`)),
  );
  const episodeSelect = h("select", { "aria-label": "Episode" }, h("option", { value: "0" }, "episode 0"));
  const slider = h("input", {
    type: "range",
    min: 0,
    max: 0,
    value: 0,
    "aria-label": "Step",
    disabled: true,
  });
  const stepOut = h("output", { class: "replay-step" }, "–");
  const rewardOut = h("output", { class: "replay-reward" }, "–");
  const soFarOut = h("output", { class: "replay-so-far" }, "–");
  const returnOut = h("output", { class: "replay-return" }, "–");
  const about = h("p", { class: "muted replay-about" });
  const status = h("div", { class: "replay-status" });
  const latest = h(
    "button",
    { type: "button", "data-action": "replay-latest", disabled: true },
    "Replay the latest checkpoint",
  );
  const element = h(
    "section",
    { class: "replay", "aria-label": "Watch the agent" },
    h("h2", null, "Watch the agent"),
    about,
    status,
    h("div", { class: "replay-stage" }, canvas),
    h(
      "div",
      { class: "replay-controls" },
      play,
      h("label", null, "Speed ", speed),
      episodeSelect,
      slider,
      latest,
    ),
    h(
      "dl",
      { class: "kv replay-readout" },
      h("dt", null, "Step"),
      h("dd", null, stepOut),
      h("dt", null, "Reward"),
      h("dd", null, rewardOut),
      h("dt", null, "Return so far"),
      h("dd", null, soFarOut),
      h("dt", null, "Episode return"),
      h("dd", null, returnOut),
    ),
  );

  let replay: RunReplay | null = null;
  let cumulative: number[] = [];
  let frame = 0;
  let playing = false;
  let position = 0;
  let last = 0;
  let raf = 0;
  let loadedFor: string | undefined;
  let run: PublicRun | undefined;
  let disposed = false;

  const show = (k: number) => {
    if (!replay) return;
    frame = k;
    drawFrame(ctx, replay, k);
    slider.value = String(k);
    stepOut.textContent = `${k} / ${replay.length}`;
    element.dataset["step"] = String(k);
    rewardOut.textContent = k === 0 ? "–" : fmtNumber(replay.rewards[k - 1]!, 4);
    soFarOut.textContent = fmtNumber(cumulative[k]!, 6);
  };

  const setPlaying = (on: boolean) => {
    playing = on;
    play.textContent = on ? "Pause" : "Play";
    element.dataset["playing"] = String(on);
    cancelAnimationFrame(raf);
    if (on) {
      last = performance.now();
      raf = requestAnimationFrame(tick);
    }
  };

  // Real time × speed: a step lasts the episode's dt (Gymnasium's render_fps, or MuJoCo's dt).
  const tick = (now: number) => {
    if (!replay || !playing) return;
    // A frame's timestamp is when the frame began, which can precede the click that set `last`.
    position += (Math.max(0, now - last) / 1000 / replay.dt) * Number(speed.value);
    last = now;
    const k = Math.min(replay.length, Math.floor(position));
    if (k !== frame) show(k);
    if (k >= replay.length) setPlaying(false);
    else raf = requestAnimationFrame(tick);
  };

  play.addEventListener("click", () => {
    if (!replay) return;
    if (!playing && frame >= replay.length) {
      position = 0;
      show(0);
    }
    setPlaying(!playing);
  });
  slider.addEventListener("input", () => {
    position = Number(slider.value);
    show(Number(slider.value));
  });

  const load = async () => {
    setPlaying(false);
    play.disabled = true;
    status.replaceChildren(h("p", { class: "muted" }, "Recording the episode…"));
    try {
      const episode = Number(episodeSelect.value);
      const r = await api.get<RunReplay>(`/api/v1/runs/${runId}/replay?episode=${episode}`);
      if (disposed) return;
      replay = r;
      cumulative = [0];
      for (const reward of r.rewards) cumulative.push(cumulative.at(-1)! + reward);
      returnOut.textContent = fmtNumber(r.return, 6);
      element.dataset["return"] = String(r.return);
      element.dataset["episode"] = String(r.episode);
      const recorded =
        run?.evaluation && run.iteration === r.iteration ? run.evaluation.returns[episode] : undefined;
      about.textContent =
        `The deterministic policy of the checkpoint at iteration ${r.iteration} (step ${r.globalStep.toLocaleString()}), ` +
        `evaluation episode ${episode} (seed ${r.seed}): ${r.length} steps, ${r.terminated ? "terminated" : "truncated"}` +
        (recorded === undefined
          ? "."
          : `; the run's recorded evaluation of this episode returned ${fmtNumber(recorded, 6)}.`);
      slider.max = String(r.length);
      slider.disabled = false;
      play.disabled = false;
      status.replaceChildren();
      position = 0;
      show(0);
    } catch (err) {
      if (disposed) return;
      // No checkpoint yet (a running run between checkpoints), or an env that cannot be drawn: said plainly.
      if (err instanceof ApiError && err.status === 409)
        status.replaceChildren(h("p", { class: "muted", role: "status" }, err.message));
      else status.replaceChildren(errorBox(err));
    }
  };
  episodeSelect.addEventListener("change", () => void load());
  latest.addEventListener("click", () => void load());

  return {
    element,
    update(r) {
      run = r;
      const episodes = r.evaluation?.episodes ?? 1;
      if (episodeSelect.options.length !== episodes) {
        episodeSelect.replaceChildren(
          ...Array.from({ length: episodes }, (_, k) => h("option", { value: String(k) }, `episode ${k}`)),
        );
      }
      latest.disabled = r.iteration === 0;
      // A completed or stopped run has checkpointed its last iteration: its episode loads by itself,
      // again when the run has gone on. While a run trains, its checkpoints come every
      // RUN_CHECKPOINT_EVERY iterations: the latest is played when asked for.
      const settled = (r.status === "completed" || r.status === "stopped") && r.iteration > 0;
      if (settled) {
        const key = `${r.status}:${r.iteration}`;
        if (loadedFor === key) return;
        loadedFor = key;
        void load();
      } else if (!replay) {
        status.replaceChildren(
          h(
            "p",
            { class: "muted" },
            r.iteration === 0
              ? "No checkpoint yet: the episode plays once the run has written one."
              : "The run's final policy plays here when it ends; the latest checkpoint's now, when asked.",
          ),
        );
      }
    },
    destroy() {
      disposed = true;
      cancelAnimationFrame(raf);
    },
  };
}
