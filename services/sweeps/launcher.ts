import type { MikroORM } from "@mikro-orm/postgresql";
import type { ServiceBroker } from "moleculer";
import type { LaunchResult, SweepDescriptor, TrialLauncher, TrialRow } from "../../actors/sweep.ts";
import { trialRunName } from "../../contracts/runs.ts";
import { User } from "../../db/entities/User.ts";
import { call } from "../actions.ts";
import { runInput } from "./records.ts";

const codeOf = (err: unknown) => (err as { code?: unknown }).code;

/**
 * Errors that say "not now" rather than "never": the owner's quota is full (429), or no runs node
 * answered (Moleculer's timeouts and unavailable services, 5xx). The trial waits for the next look;
 * any other refusal (a 4xx about the run itself) fails the trial with its message.
 */
function notNow(err: unknown): boolean {
  const code = codeOf(err);
  const type = (err as { type?: unknown }).type;
  return (
    code === 429 ||
    (typeof code === "number" && code >= 500) ||
    type === "SERVICE_NOT_FOUND" ||
    type === "SERVICE_NOT_AVAILABLE"
  );
}

/**
 * Trials as ordinary runs: created, resumed and stopped through the runs service on behalf of the
 * sweep's owner, with the owner's current role, so that the owner's quotas apply to every trial. A
 * quota that is full (429) is not an error: the trial waits for the next look.
 */
export class BrokerTrialLauncher implements TrialLauncher {
  constructor(
    private readonly broker: ServiceBroker,
    private readonly orm: MikroORM,
  ) {}

  private async owner(sweep: SweepDescriptor, forStop = false) {
    const user = await this.orm.em
      .fork()
      .findOne(User, { id: sweep.ownerId }, { fields: ["role", "disabled"] });
    if (!user) throw new Error("the sweep's owner no longer exists");
    // A disabled owner's trials may still be stopped, never started.
    if (user.disabled && !forStop) throw new Error("the sweep's owner is disabled");
    return { userId: sweep.ownerId, role: user.role };
  }

  private async runExists(runId: string): Promise<boolean> {
    const rows = await this.orm.em
      .getConnection()
      .execute<{ id: string }[]>(`select "id" from "runs" where "id" = ?`, [runId]);
    return rows.length > 0;
  }

  async launch(sweep: SweepDescriptor, trial: TrialRow): Promise<LaunchResult> {
    const who = await this.owner(sweep);
    try {
      await call(this.broker, "runs.create", {
        ...who,
        ...runInput(sweep.definition, trial),
        ...(trial.lineage ? { initFrom: trial.lineage.initFrom } : {}),
        // Named after its sweep and marked as its trial: the runs list leaves it out unless asked.
        name: trialRunName(sweep.definition.name, trial.index),
        sweep: { id: sweep.id, trialIndex: trial.index },
        id: trial.runId,
      });
      return "launched";
    } catch (err) {
      // A create that went through before (a crash between it and the trial's update, or a reply lost
      // on the way): the run is there under the trial's id, and only once (it is the primary key).
      if (await this.runExists(trial.runId)) return "launched";
      if (notNow(err)) return "throttled";
      throw err;
    }
  }

  async resume(sweep: SweepDescriptor, trial: TrialRow): Promise<LaunchResult> {
    const who = await this.owner(sweep);
    try {
      await call(this.broker, "runs.resume", { ...who, runId: trial.runId, bySweep: true });
      return "launched";
    } catch (err) {
      if (notNow(err)) return "throttled";
      // 409: it is no longer stopped (resumed already): the trial follows it as it is.
      if (codeOf(err) === 409) return "launched";
      throw err;
    }
  }

  async stop(sweep: SweepDescriptor, runId: string): Promise<void> {
    try {
      await call(this.broker, "runs.stop", { ...(await this.owner(sweep, true)), runId });
    } catch (err) {
      // Already ended, or deleted by its owner: nothing to stop.
      if (codeOf(err) === 409 || codeOf(err) === 404) return;
      throw err;
    }
  }
}
