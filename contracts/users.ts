import { z } from "zod";
import { ROLES } from "./roles.ts";

/** What the users API answers: an account and a token pair (the dashboard and the CLI read them too). */
export const PublicUserSchema = z
  .object({
    id: z.uuid(),
    email: z.string(),
    name: z.string(),
    role: z.enum(ROLES),
    disabled: z.boolean(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ title: "User" });

export type PublicUser = z.infer<typeof PublicUserSchema>;

export const TokenPairSchema = z
  .object({
    accessToken: z.string().describe("JWT (HS256) to send as `Authorization: Bearer <token>`."),
    refreshToken: z.string().describe("Opaque; exchange it once at /auth/refresh for a new pair."),
    expiresIn: z.number().int().describe("Lifetime of the access token in seconds."),
    tokenType: z.literal("Bearer"),
  })
  .meta({ title: "TokenPair" });

export type TokenPair = z.infer<typeof TokenPairSchema>;
