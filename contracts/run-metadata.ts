/**
 * A run's metadata for people: a name, a few tags to find it by, and notes. Bounded so that a list
 * page stays small and a tag stays a word one can type in a URL or a shell: each limit is said in
 * the error that enforces it. contracts/runs.ts builds the schemas from these and re-exports them;
 * they live apart, without zod, because the dashboard imports them as values (zod in its bundle
 * probes `new Function`, which the dashboard's CSP refuses).
 */
export const RUN_NAME_MAX = 120;
export const RUN_NOTES_MAX = 10_000;
export const RUN_TAGS_MAX = 12;
export const RUN_TAG_MAX = 32;
/** A tag: a letter or digit, then letters, digits and `-_.:/` (no spaces, no commas). */
export const RUN_TAG_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/;
export const RUN_TAG_RULE = `1 to ${RUN_TAG_MAX} letters, digits or -_.:/ (starting with a letter or digit)`;

/** Which runs a list shows of those a sweep launched (its trials): by default none. */
export const TRIAL_FILTERS = ["exclude", "include", "only"] as const;
export type TrialFilter = (typeof TRIAL_FILTERS)[number];

/** What names a sweep's trial run by default: its sweep's name and its index in the sweep. */
export function trialRunName(sweepName: string, trialIndex: number): string {
  const suffix = ` #${trialIndex}`;
  return `${sweepName.slice(0, RUN_NAME_MAX - suffix.length)}${suffix}`;
}
