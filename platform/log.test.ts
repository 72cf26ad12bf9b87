import { afterEach, expect, it } from "bun:test";
import { log, setLogLevel } from "./log.ts";
import { residentIdCheck } from "./pii.ts";

const original = process.stderr.write.bind(process.stderr);
afterEach(() => {
  process.stderr.write = original;
  setLogLevel((process.env.LOG_LEVEL as "debug" | undefined) ?? "silent");
});

it("masks ID and card numbers, phones and emails in the message, the fields and errors, and secrets by name", () => {
  const lines: string[] = [];
  process.stderr.write = ((chunk: string) => (lines.push(chunk), true)) as typeof process.stderr.write;
  setLogLevel("info");
  const id = "11010519491231002" + residentIdCheck("11010519491231002");
  log.info(`refund to card 4111111111111111 for ${id}`, {
    from: "zhang@example.com",
    nested: { phone: "13812345678", token: "abc" },
    err: new Error(`bad number 4111111111111111`),
  });
  const line = JSON.parse(lines[0]!);
  expect(line.msg).toBe("refund to card 411111******1111 for 110105********002X");
  expect(line.from).toBe("z***@example.com");
  expect(line.nested).toEqual({ phone: "138****5678", token: "[redacted]" });
  expect(line.err.message).toBe("bad number 411111******1111");
  expect(lines[0]).not.toContain("4111111111111111");
});
