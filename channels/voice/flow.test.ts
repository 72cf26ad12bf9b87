import { describe, expect, it } from "bun:test";
import { checkFlow, IvrFlow } from "./flow.ts";
import { exampleFlow } from "./example-flow.ts";

const Q = "00000000-0000-4000-8000-000000000001";
const parse = (raw: unknown) => IvrFlow.safeParse(raw);

describe("IVR flow validation", () => {
  it("accepts the demo flow", () => {
    expect(checkFlow(exampleFlow({ refunds: Q, general: Q }))).toEqual([]);
  });

  it("rejects a branch that leads nowhere, naming the field", () => {
    const flow = IvrFlow.parse({ start: "a", nodes: { a: { type: "say", text: "hi", next: "b" } } });
    expect(checkFlow(flow)).toEqual([{ path: "nodes.a.next", message: 'refers to unknown node "b"' }]);
  });

  it("rejects an unreachable node", () => {
    const flow = IvrFlow.parse({ start: "a", nodes: { a: { type: "hangup" }, lost: { type: "hangup" } } });
    expect(checkFlow(flow)).toEqual([{ path: "nodes.lost", message: 'node "lost" cannot be reached from start' }]);
  });

  it("rejects a loop with no gather in it, but allows one through a gather", () => {
    const spin = IvrFlow.parse({
      start: "a",
      nodes: { a: { type: "say", text: "x", next: "b" }, b: { type: "set", next: "a" } },
    });
    expect(checkFlow(spin)[0]!.message).toContain("loop without a gather");
    const menu = IvrFlow.parse({
      start: "m",
      nodes: {
        m: { type: "gather", prompt: "press 1", branches: [{ digits: "1", next: "again" }], fallback: "bye" },
        again: { type: "say", text: "once more", next: "m" },
        bye: { type: "hangup" },
      },
    });
    expect(checkFlow(menu)).toEqual([]);
  });

  it("rejects a gather without branches, a branch with neither keys nor words, and the same keys twice", () => {
    expect(
      parse({
        start: "m",
        nodes: { m: { type: "gather", prompt: "p", branches: [], fallback: "m" } },
      }).error?.issues[0]?.path.join("."),
    ).toBe("nodes.m.branches");
    expect(
      parse({ start: "m", nodes: { m: { type: "gather", prompt: "p", branches: [{ next: "m" }], fallback: "m" } } })
        .success,
    ).toBe(false);
    const twice = IvrFlow.parse({
      start: "m",
      nodes: {
        m: {
          type: "gather",
          prompt: "p",
          branches: [
            { digits: "1", next: "m" },
            { digits: "1", next: "m" },
          ],
          fallback: "m",
        },
      },
    });
    expect(checkFlow(twice)).toEqual([
      { path: "nodes.m.branches.1.digits", message: 'keys "1" already choose another branch' },
    ]);
  });

  it("requires a fallback on every gather, and an E.164 number on transfers", () => {
    expect(
      parse({
        start: "m",
        nodes: { m: { type: "gather", prompt: "p", branches: [{ digits: "1", next: "m" }] } },
      }).error?.issues[0]?.path.join("."),
    ).toBe("nodes.m.fallback");
    expect(
      parse({ start: "t", nodes: { t: { type: "transfer", number: "12345" } } }).error?.issues[0]?.path.join("."),
    ).toBe("nodes.t.number");
  });
});
