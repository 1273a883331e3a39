import type { ParameterizedContext } from "koa";
import type { ServiceBroker } from "moleculer";
import type { Config } from "../config.ts";
import type { Role } from "../contracts/roles.ts";
import type { PublicUser } from "../contracts/users.ts";
import type { Logger } from "../lib/logger.ts";
import type { AuthStateCache } from "./auth/auth-state-cache.ts";

/** What the API process knows about the caller of an authenticated request. */
export interface CurrentUser {
  id: string;
  /** The role the account holds now (from `users.authState`), not the one written in the token. */
  role: Role;
  /** The account as the users service last reported it (cached with the auth state). */
  account: PublicUser;
}

export interface ApiState {
  requestId: string;
  /** Child of the process logger carrying `reqId`: every line logged for this request has it. */
  log: Logger;
  /** Set by the authentication middleware on protected routes. */
  user?: CurrentUser;
}

export type ApiContext = ParameterizedContext<ApiState>;

/** What route modules receive: they reach services only through the broker. */
export interface ApiDeps {
  broker: ServiceBroker;
  config: Config;
  logger: Logger;
  /** Access-token HMAC secret (koa-jwt verifies with it). */
  jwtSecret: string;
  authStates: AuthStateCache;
  /** True when the database answers; /readyz asks it. */
  dbReady: () => Promise<boolean>;
}
