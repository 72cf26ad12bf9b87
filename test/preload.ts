import { afterAll } from "bun:test";
import { setLogLevel } from "../platform/log.ts";
import { closeTestDatabase } from "./db.ts";

// Tests assert on behaviour, not on log lines; LOG_LEVEL=debug bun test shows them when needed.
setLogLevel((process.env.LOG_LEVEL as "debug" | undefined) ?? "silent");

afterAll(async () => {
  await closeTestDatabase();
});
