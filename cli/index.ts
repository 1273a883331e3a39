/**
 * `proxima <command>`: a thin dispatcher. Each command lives in its own module exporting
 * `run(argv): Promise<number>` (the exit code) and is imported only when asked for, so that
 * `proxima envs` does not load TensorFlow.js and `proxima users` does not load `rl/`.
 */
export type CommandModule = { run(argv: string[]): Promise<number> };

const commands: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  train: { summary: "train a PPO agent locally", load: () => import("./train.ts") },
  eval: { summary: "evaluate a checkpoint", load: () => import("./eval.ts") },
  export: {
    summary: "write a checkpoint's policy as ONNX (export --checkpoint F --format onnx --out F)",
    load: () => import("./export.ts"),
  },
  envs: { summary: "list the registered environments", load: () => import("./envs.ts") },
  users: {
    summary: "manage users (users create --email E --role R | users quota EMAIL --concurrent-runs N)",
    load: () => import("./users.ts"),
  },
  migrate: { summary: "apply database migrations", load: () => import("./migrate.ts") },
  login: {
    summary: "log in to a Proxima server (login --server URL)",
    load: () => import("./remote/login.ts"),
  },
  logout: {
    summary: "log out of the Proxima server",
    load: async () => ({ run: (await import("./remote/login.ts")).logout }),
  },
  runs: {
    summary: "training runs on the server: create|list|show|watch|stop|resume",
    load: () => import("./remote/runs.ts"),
  },
  sweeps: {
    summary: "hyperparameter sweeps on the server: create -f sweep.yaml|list|show|watch|stop|resume",
    load: () => import("./remote/sweeps.ts"),
  },
  submit: {
    summary: "submit code for an exercise (submit EXERCISE FILE.js)",
    load: () => import("./remote/submit.ts"),
  },
};

function usage(): string {
  const rows = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  return `usage: proxima <command> [options]\n\ncommands:\n${rows.join("\n")}\n\nproxima <command> --help describes a command and its options.\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage());
    return name === undefined ? 1 : 0;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
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
