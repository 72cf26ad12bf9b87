import type { Config } from "./config.ts";
import { maskPii } from "./pii.ts";

/**
 * The one logger: JSON lines on stderr. Fields named like secrets are masked before printing, and so is
 * personal data in any text (ID and card numbers, phones, emails: platform/pii.ts), whoever reads the logs.
 */
const levels = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
type Level = Exclude<keyof typeof levels, "silent">;

const SECRET_FIELD = /pass(word)?|secret|token|authorization|cookie|credential|key$/i;

function redact(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return maskPii(value);
  if (depth > 4 || value === null || typeof value !== "object") return value;
  if (value instanceof Error)
    return { name: value.name, message: maskPii(value.message), stack: value.stack && maskPii(value.stack) };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, SECRET_FIELD.test(k) ? "[redacted]" : redact(v, depth + 1)]),
  );
}

let threshold: number = levels.info;

export function setLogLevel(level: Config["logLevel"]) {
  threshold = levels[level];
}

function write(level: Level, msg: string, fields?: Record<string, unknown>) {
  if (levels[level] < threshold) return;
  const line = { t: new Date().toISOString(), level, msg: maskPii(msg), ...(fields ? (redact(fields) as object) : {}) };
  process.stderr.write(JSON.stringify(line) + "\n");
}

export const log = {
  debug: (msg: string, fields?: Record<string, unknown>) => write("debug", msg, fields),
  info: (msg: string, fields?: Record<string, unknown>) => write("info", msg, fields),
  warn: (msg: string, fields?: Record<string, unknown>) => write("warn", msg, fields),
  error: (msg: string, fields?: Record<string, unknown>) => write("error", msg, fields),
};
