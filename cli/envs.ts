/** `proxima envs [--json]`: the environment registry. */
import { parseArgs } from "node:util";
import { listEnvs } from "../rl/envs/registry.ts";
import { presetsFor } from "../rl/ppo/hyperparameters.ts";

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: { json: { type: "boolean", default: false } },
  });
  const envs = listEnvs().map((e) => ({ ...e, presets: presetsFor(e.id) }));
  if (values.json) {
    process.stdout.write(`${JSON.stringify(envs)}\n`);
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
  return 0;
}
