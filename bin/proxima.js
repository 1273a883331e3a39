#!/usr/bin/env node
// The published entry point stays plain JavaScript so that `npx proxima` works without a build:
// it registers tsx's loader and hands over to the TypeScript CLI.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../cli/index.ts");
process.exitCode = await main(process.argv.slice(2));
