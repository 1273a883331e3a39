import { z } from "zod";

/**
 * An evaluation episode of a run's policy, recorded for playback (GET /runs/:id/replay): what the
 * dashboard's canvas draws, so that the page runs no RL code. One definition for the server (rl/
 * records it, the API validates and documents it) and the dashboard's types.
 *
 * `states[k]` is what the drawing needs after k steps (`states[0]`: after the reset); `rewards[k]`
 * and `actions[k]` are those of step k + 1, which led from `states[k]` to `states[k + 1]`.
 */
export const REPLAY_VIEWS = ["side", "top"] as const;
export const REPLAY_GEOM_SHAPES = ["capsule", "cylinder", "sphere"] as const;

const ClassicScene = <K extends string>(kind: K, state: string) =>
  z.object({ kind: z.literal(kind) }).describe(`states[k]: ${state}, float64 as in Gymnasium.`);

export const ReplayGeomSchema = z
  .object({
    name: z.string(),
    shape: z.enum(REPLAY_GEOM_SHAPES),
    radius: z.number(),
    body: z.number().int().describe("The body the geom is attached to; 0: the world (static)."),
  })
  .meta({ title: "ReplayGeom" });

export const ReplaySceneSchema = z
  .discriminatedUnion("kind", [
    ClassicScene("cartpole", "[x, x_dot, theta, theta_dot]"),
    ClassicScene("acrobot", "[theta1, theta2, dtheta1, dtheta2]"),
    z
      .object({ kind: z.literal("mountain-car"), goalPosition: z.number() })
      .describe("states[k]: [position, velocity]; the flag stands at goalPosition."),
    ClassicScene("pendulum", "[theta, theta_dot]; actions[k]: the torque"),
    z
      .object({
        kind: z.literal("mujoco"),
        view: z
          .enum(REPLAY_VIEWS)
          .describe("side: u = world x, v = world z (up); top: u = world x, v = world y."),
        follow: z.boolean().describe("Whether the view follows the robot (locomotion) or stays still."),
        extent: z.number().describe("Half the height of the view, in metres."),
        floor: z.number().nullable().describe("The height of the floor plane in a side view; null: none."),
        geoms: z.array(ReplayGeomSchema),
      })
      .describe(
        "A MuJoCo robot as its geoms projected on the view's plane: states[k] holds 4 numbers per geom, [u, v, au, av]: the centre and the half-axis (a capsule's or cylinder's axis times its half-length; 0 for a sphere), in metres (to 0.1 mm).",
      ),
  ])
  .meta({ title: "ReplayScene" });
export type ReplayScene = z.infer<typeof ReplaySceneSchema>;
export type ReplayGeom = z.infer<typeof ReplayGeomSchema>;

/** What rl/ records of one episode (rl/envs/render.ts `recordEpisode`). */
export const ReplayEpisodeSchema = z.object({
  envId: z.string(),
  seed: z.number().int().describe("The seed of the episode's reset."),
  dt: z.number().describe("Seconds of simulated time per step (real-time playback)."),
  scene: ReplaySceneSchema,
  states: z.array(z.array(z.number())).describe("length + 1 drawing states; [0] after the reset."),
  rewards: z.array(z.number()).describe("Each step's reward."),
  actions: z.array(z.array(z.number())).describe("Each step's action (a Box action to 1e-4)."),
  return: z
    .number()
    .describe("The sum of the rewards in float64, step by step: the evaluation's return of this episode."),
  length: z.number().int(),
  terminated: z.boolean(),
  truncated: z.boolean(),
});
export type ReplayEpisode = z.infer<typeof ReplayEpisodeSchema>;

export const RunReplaySchema = ReplayEpisodeSchema.extend({
  runId: z.uuid(),
  iteration: z.number().int().describe("The checkpoint's iteration."),
  globalStep: z.number().int(),
  episode: z
    .number()
    .int()
    .describe("Which episode of the run's evaluation: its envs are seeded evaluation seed + episode."),
})
  .describe(
    "One episode of the deterministic policy (argmax / clipped mean) of the run's latest checkpoint, recorded step by step. For a completed run, episode k is the k-th episode of its recorded evaluation: the same seed, the same actions, and `return` equals `evaluation.returns[k]`.",
  )
  .meta({ title: "RunReplay" });
export type RunReplay = z.infer<typeof RunReplaySchema>;
