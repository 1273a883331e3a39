#!/usr/bin/env node
// The published entry point stays plain JavaScript so that `npx proxima` works without a build:
// it registers tsx's loader and hands over to the TypeScript CLI.
import { register } from "tsx/esm/api";

register();
// `proxima envs | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on("error", (err) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});
const { main } = await import("../cli/index.ts");
process.exitCode = await main(process.argv.slice(2));
