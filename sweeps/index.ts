/** Hyperparameter sweeps, framework-free: definitions, search spaces, ASHA and PBT. */
export * from "./asha.ts";
export * from "./definition.ts";
export * from "./pbt.ts";
export * from "./space.ts";
export * from "./trials.ts";
