import { type Algorithm, hash, verify } from "@node-rs/argon2";
import type { FieldProblem } from "../../lib/errors.ts";
import { ValidationFailedError } from "../../lib/errors.ts";
import { isCommonPassword } from "./common-passwords.ts";
import type { HashGate } from "./hash-gate.ts";

/**
 * Password hashing and the password policy.
 *
 * Hashing: argon2id with OWASP's minimum recommendation (m = 19 MiB, t = 2, p = 1; OWASP Password
 * Storage Cheat Sheet, "Argon2id"). The parameters travel inside the PHC string, so raising them later
 * keeps old hashes verifiable.
 *
 * Policy: NIST SP 800-63B §3.1.1.2 — at least 8 characters, no composition rules, and a check against
 * a list of commonly used passwords. The upper bound only keeps one request from buying a long hash.
 */
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 256;

// Algorithm is a `const enum` in the package's typings, which isolated modules cannot inline; 2 is Argon2id.
const ARGON2ID = 2 as Algorithm;

export const ARGON2_OPTIONS = {
  algorithm: ARGON2ID,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

/**
 * Where this process's hashes take their turn. Unbounded until the users service sets its gate from
 * the configuration (the CLI's one-off `users create` hashes once and needs none).
 */
let gate: HashGate | null = null;

export function setHashGate(next: HashGate | null): void {
  gate = next;
}

function gated<T>(work: () => Promise<T>): Promise<T> {
  return gate ? gate.run(work) : work();
}

/** Throws OverloadedError (503) when the process already hashes as much as it may. */
export function hashPassword(password: string): Promise<string> {
  return gated(() => hash(password, ARGON2_OPTIONS));
}

/**
 * False for a wrong password and for a malformed stored hash (a corrupt row must not open the door);
 * throws OverloadedError (503) when the process already hashes as much as it may.
 */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  return gated(async () => {
    try {
      return await verify(passwordHash, password);
    } catch {
      return false;
    }
  });
}

let dummyHash: Promise<string> | undefined;

function dummy(): Promise<string> {
  // Computed outside the gate: it is the process's own, once, not a caller's work.
  dummyHash ??= hash("proxima-dummy-password-for-timing", ARGON2_OPTIONS);
  return dummyHash;
}

/**
 * Spends the time of one verification when the account does not exist, so that the response time of
 * a login does not tell which emails are registered.
 */
export async function verifyAgainstDummy(password: string): Promise<false> {
  await verifyPassword(await dummy(), password);
  return false;
}

export interface PasswordContext {
  email?: string;
  name?: string;
}

/** What is wrong with a candidate password, as field problems on `field` (empty when acceptable). */
export function passwordProblems(
  password: string,
  context: PasswordContext = {},
  field = "password",
): FieldProblem[] {
  // Code points, not UTF-16 units: an emoji is one character to the person typing it.
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) {
    return [{ field, message: `must be at least ${PASSWORD_MIN_LENGTH} characters long` }];
  }
  if (length > PASSWORD_MAX_LENGTH) {
    return [{ field, message: `must be at most ${PASSWORD_MAX_LENGTH} characters long` }];
  }
  if (isCommonPassword(password)) {
    return [{ field, message: "is too common: it appears in lists of leaked passwords" }];
  }
  const lowered = password.trim().toLowerCase();
  const email = context.email?.trim().toLowerCase();
  const name = context.name?.trim().toLowerCase();
  if ((email && (lowered === email || lowered === email.split("@")[0])) || (name && lowered === name)) {
    return [{ field, message: "must not be your email address or your name" }];
  }
  return [];
}

/** Throws a 422 naming the field when the password breaks the policy. */
export function assertAcceptablePassword(password: string, context: PasswordContext = {}): void {
  const problems = passwordProblems(password, context);
  if (problems.length > 0) {
    throw new ValidationFailedError("the password does not meet the password policy", problems);
  }
}
