import { Checkpoint } from "./Checkpoint.ts";
import { MetricPoint } from "./MetricPoint.ts";
import { RefreshToken } from "./RefreshToken.ts";
import { Run } from "./Run.ts";
import { User } from "./User.ts";
import { WsTicket } from "./WsTicket.ts";

export { Checkpoint } from "./Checkpoint.ts";
export { MetricPoint } from "./MetricPoint.ts";
export { RefreshToken } from "./RefreshToken.ts";
export { RUN_STATUSES, Run, type RunResources, type RunStatus } from "./Run.ts";
export { normalizeEmail, ROLES, type Role, User } from "./User.ts";

/** Every entity of the application, for the ORM's discovery. */
export const entities = [User, RefreshToken, Run, Checkpoint, MetricPoint, WsTicket];
