import { RefreshToken } from "./RefreshToken.ts";
import { User } from "./User.ts";

export { RefreshToken } from "./RefreshToken.ts";
export { normalizeEmail, ROLES, type Role, User } from "./User.ts";

/** Every entity of the application, for the ORM's discovery. */
export const entities = [User, RefreshToken];
