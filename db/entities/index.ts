import { Checkpoint } from "./Checkpoint.ts";
import { ExerciseProgress } from "./ExerciseProgress.ts";
import { IdempotencyKey } from "./IdempotencyKey.ts";
import { Invite } from "./Invite.ts";
import { MetricPoint } from "./MetricPoint.ts";
import { RefreshToken } from "./RefreshToken.ts";
import { Run } from "./Run.ts";
import { Scheduler } from "./Scheduler.ts";
import { Submission } from "./Submission.ts";
import { Sweep } from "./Sweep.ts";
import { SweepTrial } from "./SweepTrial.ts";
import { User } from "./User.ts";
import { UserQuota } from "./UserQuota.ts";
import { WsTicket } from "./WsTicket.ts";

export { Checkpoint } from "./Checkpoint.ts";
export { ExerciseProgress } from "./ExerciseProgress.ts";
export { IdempotencyKey } from "./IdempotencyKey.ts";
export { Invite } from "./Invite.ts";
export { MetricPoint } from "./MetricPoint.ts";
export { RefreshToken } from "./RefreshToken.ts";
export { Run } from "./Run.ts";
export { Scheduler } from "./Scheduler.ts";
export { Submission } from "./Submission.ts";
export { Sweep } from "./Sweep.ts";
export { SweepTrial } from "./SweepTrial.ts";
export { normalizeEmail, User } from "./User.ts";
export { UserQuota } from "./UserQuota.ts";

/** Every entity of the application, for the ORM's discovery. */
export const entities = [
  User,
  RefreshToken,
  Run,
  Checkpoint,
  MetricPoint,
  WsTicket,
  IdempotencyKey,
  Sweep,
  SweepTrial,
  Submission,
  ExerciseProgress,
  Invite,
  UserQuota,
  Scheduler,
];
