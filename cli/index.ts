/**
 * `proxima <command>`: a thin dispatcher. Each command lives in its own module exporting
 * `run(argv): Promise<number>` (the exit code) and is imported only when asked for, so that
 * `proxima envs` does not load TensorFlow.js and `proxima users` does not load `rl/`.
 */
export type CommandModule = { run(argv: string[]): Promise<number> };

const commands: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  train: { summary: "train a PPO agent locally", load: () => import("./train.ts") },
  eval: { summary: "evaluate a checkpoint", load: () => import("./eval.ts") },
  envs: { summary: "list the registered environments", load: () => import("./envs.ts") },
  users: { summary: "manage users (users create --email E --role R)", load: () => import("./users.ts") },
  migrate: { summary: "apply database migrations", load: () => import("./migrate.ts") },
};

function usage(): string {
  const rows = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  return `usage: proxima <command> [options]\n\ncommands:\n${rows.join("\n")}\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage());
    return name === undefined ? 1 : 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`proxima: unknown command "${name}" (try: ${Object.keys(commands).join(", ")})\n`);
    return 2;
  }
  try {
    return await (await command.load()).run(rest);
  } catch (err) {
    // One line, no stack: the CLI's contract is a readable reason and a non-zero exit.
    process.stderr.write(`proxima ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
