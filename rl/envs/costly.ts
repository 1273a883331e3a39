/**
 * A benchmark-only stand-in for a heavier simulator: CartPole-v1 whose every step also burns a fixed
 * amount of CPU time. Its id carries the cost, `CartPole-v1-costly-<µs>us` (e.g.
 * `CartPole-v1-costly-100us`), so that the cost travels wherever an env id travels (an env runner on
 * another node builds its envs from the id alone). Dynamics, observations, rewards, seeding and
 * snapshots are CartPole-v1's exactly; only the time per step differs.
 *
 * The burn spins until the process's CPU time (`process.cpuUsage`, getrusage(RUSAGE_SELF)) has advanced
 * by the cost, not until wall time has: a process that is descheduled mid-step (more runners than
 * cores) must still do the whole step's work, as a real simulator would, or scaling past the core count
 * would look free. Not the thread's own clock (`process.threadCpuUsage`): on the reference machine's
 * kernel RUSAGE_THREAD advances in 4 ms ticks, which turned a 100 µs step into a 4 ms one, while
 * RUSAGE_SELF is precise to the µs. The price is that time spent meanwhile by the process's other
 * threads (GC helpers) counts toward the step, so a step may do slightly less than its cost of work.
 *
 * The costly ids are deliberately not registered ids (`isEnvId` is false, `envIds()` omits them): they
 * are reachable through `makeEnv`/`makeVectorEnv` for benchmarks (`npm run bench:scale`), never offered
 * to users through the API or the CLI, where a cost in the id would be a way to burn a node's CPU.
 */
import { CartPoleEnv } from "./cartpole.ts";
import type { EnvSpec } from "./env-base.ts";
import { EnvError } from "./errors.ts";

/** The registered env the costly variant wraps. */
export const COSTLY_BASE_ID = "CartPole-v1";
/** Upper bound on the cost per step: 10 ms is already a slow physics simulator. */
export const MAX_STEP_COST_MICROS = 10_000;

export type CostlyEnvId = `${typeof COSTLY_BASE_ID}-costly-${number}us`;

const COSTLY_ID = /^CartPole-v1-costly-(\d+)us$/;

/** The id of CartPole-v1 with `stepCostMicros` µs of CPU per step. */
export function costlyEnvId(stepCostMicros: number): CostlyEnvId {
  checkCost(stepCostMicros, `${COSTLY_BASE_ID}-costly-${stepCostMicros}us`);
  return `${COSTLY_BASE_ID}-costly-${stepCostMicros}us`;
}

/** The cost per step of a costly id, or null when `id` is not one (malformed ids are not costly ids). */
export function parseCostlyEnvId(
  id: string,
): { baseId: typeof COSTLY_BASE_ID; stepCostMicros: number } | null {
  const m = COSTLY_ID.exec(id);
  if (!m) return null;
  const stepCostMicros = Number(m[1]);
  checkCost(stepCostMicros, id);
  return { baseId: COSTLY_BASE_ID, stepCostMicros };
}

function checkCost(micros: number, id: string): void {
  if (!Number.isInteger(micros) || micros < 0 || micros > MAX_STEP_COST_MICROS) {
    throw new EnvError(
      "INVALID_OPTION",
      `the step cost must be an integer number of µs in [0, ${MAX_STEP_COST_MICROS}], got ${micros}`,
      id,
    );
  }
}

/** Keeps the loop's result observable so that the arithmetic is not optimised away. */
let _sink = 0;

/** Spins until the process has used `micros` µs more CPU time; returns the CPU µs actually used. */
export function burnCpuMicros(micros: number): number {
  if (micros <= 0) return 0;
  const start = process.cpuUsage();
  let used = 0;
  // A little arithmetic between clock reads keeps the loop a CPU loop rather than a syscall loop.
  let x = 1;
  while (used < micros) {
    for (let i = 0; i < 64; i++) x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    const now = process.cpuUsage(start);
    used = now.user + now.system;
  }
  _sink ^= x;
  return used;
}

export class CostlyCartPoleEnv extends CartPoleEnv {
  constructor(
    spec: EnvSpec,
    readonly stepCostMicros: number,
  ) {
    super(spec);
    checkCost(stepCostMicros, spec.id);
  }

  protected override transition(action: ArrayLike<number>, offset: number): number {
    burnCpuMicros(this.stepCostMicros);
    return super.transition(action, offset);
  }
}
