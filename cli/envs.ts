/**
 * `proxima envs [--json] [--presets]`: the environment registry; with --presets, every setting each
 * preset gives each env and the source it reproduces.
 */
import { listEnvs } from "../rl/envs/registry.ts";
import { presetSource, presetsFor, resolveHyperparameters } from "../rl/ppo/hyperparameters.ts";
import { type CommandSpec, type OptionTable, parseCommand } from "./command.ts";

export const ENVS = {
  name: "proxima envs",
  summary: "Lists the registered environments: spaces, time limit, reward threshold and presets.",
  options: {
    json: { type: "boolean", default: false, description: "print the registry as JSON" },
    presets: {
      type: "boolean",
      default: false,
      description: "list every setting each preset gives each env, and the source it reproduces",
    },
  },
} satisfies CommandSpec<OptionTable>;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(ENVS, argv);
  if (!parsed) return 0;
  const { values } = parsed;
  const envs = listEnvs().map((e) => ({
    ...e,
    presets: presetsFor(e.id),
    presetSettings: Object.fromEntries(
      presetsFor(e.id).map((p) => [
        p,
        { source: presetSource(e.id, p), settings: resolveHyperparameters(e.id, p) },
      ]),
    ),
  }));
  if (values.json) {
    process.stdout.write(`${JSON.stringify(envs)}\n`);
    return 0;
  }
  if (values.presets) {
    for (const e of envs) {
      for (const [preset, { source, settings }] of Object.entries(e.presetSettings)) {
        process.stdout.write(`${e.id} · ${preset}: ${source}\n`);
        const line = Object.entries(settings)
          .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join("x") : String(v)}`)
          .join(" ");
        process.stdout.write(`  ${line}\n`);
      }
    }
    return 0;
  }
  const rows = [
    ["id", "observation", "actions", "time limit", "threshold", "presets"],
    ...envs.map((e) => [
      e.id,
      `Box(${e.observationShape.join("×")})`,
      e.actionSpace,
      String(e.maxEpisodeSteps),
      e.rewardThreshold === undefined ? "-" : String(e.rewardThreshold),
      e.presets.join(", "),
    ]),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows)
    process.stdout.write(
      `${r
        .map((cell, c) => cell.padEnd(widths[c]))
        .join("  ")
        .trimEnd()}\n`,
    );
  process.stdout.write(
    "\nproxima envs --presets lists what each preset sets and the source it reproduces.\n",
  );
  return 0;
}
