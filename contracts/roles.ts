/** The roles a user can hold, from least to most privileged. */
export const ROLES = ["learner", "researcher", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** Who is asking: the authenticated user and their role, as every service action receives it. */
export interface Caller {
  userId: string;
  role: Role;
}
