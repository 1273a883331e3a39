import { type Logger, pino } from "pino";
import type { Config } from "../config.ts";

export type { Logger };

/**
 * The one root pino logger of a process. Moleculer's loggers are children of it (see
 * moleculer.config.ts), and so are the API's per-request loggers, so every line is JSON with the
 * same base fields in production. On a developer's terminal it is pretty-printed.
 */
export function createRootLogger(config: Pick<Config, "LOG_LEVEL" | "NODE_ENV">): Logger {
  const pretty = config.NODE_ENV !== "production" && process.stdout.isTTY === true;
  return pino({
    level: config.LOG_LEVEL,
    base: { pid: process.pid },
    // Secrets must never reach a log line, whatever an object logged by mistake carries.
    redact: {
      paths: [
        "password",
        "*.password",
        "accessToken",
        "*.accessToken",
        "refreshToken",
        "*.refreshToken",
        "req.headers.authorization",
        "headers.authorization",
        "authorization",
      ],
      censor: "[redacted]",
    },
    ...(pretty
      ? { transport: { target: "pino-pretty", options: { colorize: true, ignore: "pid,hostname" } } }
      : {}),
  });
}
