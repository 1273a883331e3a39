/** The roles a user can hold, from least to most privileged. */
export const ROLES = ["learner", "researcher", "admin"] as const;
export type Role = (typeof ROLES)[number];
