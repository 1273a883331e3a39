/**
 * Counts of this process's sandbox children, kept as plain numbers so that the sandbox depends on no
 * metrics library (the child side imports supervised-child.ts too); services/metrics.ts reads them when
 * Prometheus scrapes. `job`: a child of the grading pool (`child` entry); `env`: an env session.
 */
export type SandboxKind = "job" | "env";
/** Why a child ended: it died by itself (crash), the host killed it (deadline, retired), or it was closed. */
export type SandboxExitReason = "crash" | "killed" | "stopped";

export const sandboxProcessTally = {
  alive: { job: 0, env: 0 } as Record<SandboxKind, number>,
  started: { job: 0, env: 0 } as Record<SandboxKind, number>,
  /** By `kind:reason`. */
  exits: Object.fromEntries(
    (["job", "env"] as const).flatMap((k) =>
      (["crash", "killed", "stopped"] as const).map((r) => [`${k}:${r}`, 0]),
    ),
  ) as Record<`${SandboxKind}:${SandboxExitReason}`, number>,
};

export function tallyStart(kind: SandboxKind): void {
  sandboxProcessTally.started[kind]++;
  sandboxProcessTally.alive[kind]++;
}

export function tallyExit(kind: SandboxKind, reason: SandboxExitReason): void {
  sandboxProcessTally.alive[kind]--;
  sandboxProcessTally.exits[`${kind}:${reason}`]++;
}
