import { describe, expect, it } from "bun:test";
import { join } from "node:path";
import { checkImports, LONG_FILE_MARK, projectSources, type Source } from "./check-imports.ts";

const file = (path: string, text: string): Source => ({ path, text });

describe("the import rule", () => {
  it("holds for the whole project", () => {
    expect(checkImports(projectSources(join(import.meta.dir, "..")))).toEqual([]);
  });

  it("refuses a domain module that imports apps/, even for a type", () => {
    const problems = checkImports([
      file("calls/call-control.ts", 'import type { Runtime } from "../apps/server/runtime.ts";'),
      file("apps/server/runtime.ts", ""),
    ]);
    expect(problems).toEqual([
      { file: "calls/call-control.ts", message: "calls may not import apps/server/runtime.ts" },
    ]);
  });

  it("refuses a lower layer importing a higher one, and gateway and inbox importing each other", () => {
    const problems = checkImports([
      file("conversations/a.ts", 'import { x } from "../routing/b.ts";'),
      file("apps/gateway/webchat/w.ts", 'import { typing } from "../../inbox/typing.ts";'),
      file("apps/inbox/i.ts", 'export { h } from "../gateway/help/h.ts";'),
    ]);
    expect(problems.map((p) => p.file)).toEqual(["conversations/a.ts", "apps/gateway/webchat/w.ts", "apps/inbox/i.ts"]);
  });

  it("lets a channel adapter import the channel contract, and the rest of the core only as types", () => {
    const ok = checkImports([
      file("channels/sms/parse.ts", 'import { MAX_TEXT } from "../../conversations/channel.ts";'),
      file("channels/sms/send.ts", 'import type { Contact } from "../../conversations/contact.ts";'),
    ]);
    expect(ok).toEqual([]);
    const bad = checkImports([file("channels/sms/send.ts", 'import { merge } from "../../conversations/contact.ts";')]);
    expect(bad).toHaveLength(1);
  });

  it("finds a cycle of files, dynamic imports included, outside the browser app only", () => {
    const problems = checkImports([
      file("routing/a.ts", 'import { b } from "./b.ts";'),
      file("routing/b.ts", 'const c = await import("./c.ts");'),
      file("routing/c.ts", 'import { a } from "./a.ts";'),
      file("apps/web/inbox/x.tsx", 'import { y } from "./y.tsx";'),
      file("apps/web/inbox/y.tsx", 'import { x } from "./x.tsx";'),
    ]);
    expect(problems).toEqual([
      { file: "routing/a.ts", message: "import cycle: routing/a.ts → routing/b.ts → routing/c.ts" },
    ]);
  });

  it("exempts tests from the layers, but nothing else may import a test", () => {
    expect(checkImports([file("calls/x.e2e.test.ts", 'import { s } from "../test/server.ts";')])).toEqual([]);
    expect(checkImports([file("calls/x.ts", 'import { s } from "./y.test.ts";')])).toHaveLength(1);
  });

  it("asks a long file to be split unless its header says why", () => {
    const long = "const a = 1;\n".repeat(500);
    expect(checkImports([file("routing/long.ts", long)])).toHaveLength(1);
    expect(checkImports([file("routing/long.ts", `/** ${LONG_FILE_MARK} … */\n${long}`)])).toEqual([]);
    expect(checkImports([file("apps/web/inbox/long.tsx", long)])).toEqual([]);
  });
});
