import { z } from "zod";
import { ROLES } from "../../contracts/roles.ts";
import type { PublicUser } from "../../contracts/users.ts";
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, passwordProblems } from "./passwords.ts";

/**
 * The users service's message shapes, in one schema library. The API validates request bodies with
 * them (and derives its OpenAPI document from them); the CLI validates its arguments with them; the
 * service re-checks what matters (password policy, normalised email) whoever calls it.
 */
export const EmailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(254)
  .pipe(z.email({ message: "must be a valid email address" }))
  .describe("Email address; unique whatever its case.");

export const NameSchema = z.string().trim().min(1).max(100).describe("Display name.");

export const RoleSchema = z.enum(ROLES).describe("learner (default at registration), researcher or admin.");

export const PasswordSchema = z
  .string()
  .min(PASSWORD_MIN_LENGTH, { message: `must be at least ${PASSWORD_MIN_LENGTH} characters long` })
  .max(PASSWORD_MAX_LENGTH)
  .describe(`At least ${PASSWORD_MIN_LENGTH} characters and not a commonly used password.`);

/** A new account: the password policy is checked against the email and name of the same request. */
export const NewAccountSchema = z
  .strictObject({
    email: EmailSchema,
    password: PasswordSchema,
    name: NameSchema,
    invite: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .describe("An invite code from an admin: required when the server's REGISTRATION is invite."),
  })
  .superRefine((value, ctx) => {
    // Length problems are the field schema's to report; this adds what needs the other fields.
    const length = typeof value.password === "string" ? [...value.password].length : 0;
    if (length < PASSWORD_MIN_LENGTH || length > PASSWORD_MAX_LENGTH) return;
    for (const problem of passwordProblems(value.password, { email: value.email, name: value.name })) {
      ctx.addIssue({ code: "custom", path: [problem.field], message: problem.message });
    }
  });

export type NewAccount = z.infer<typeof NewAccountSchema>;

/** An admin's invite (REGISTRATION=invite). */
export const NewInviteSchema = z
  .object({
    code: z.string().describe("The invite code; shown once (only its digest is stored)."),
    expiresAt: z.iso.datetime(),
  })
  .meta({ title: "Invite" });

/** What the API needs to know about the holder of a valid token, on every request. */
export interface AuthState {
  id: string;
  exists: boolean;
  disabled: boolean;
  role: (typeof ROLES)[number] | null;
  /** The account as it is now (null when it no longer exists): `GET /me` answers from it. */
  account: PublicUser | null;
}
