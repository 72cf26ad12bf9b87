import { describe, expect, it } from "bun:test";
import { IvrFlow } from "./flow.ts";
import { exampleFlow } from "./example-flow.ts";
import { runIvr, spokenMatch, startState, type IvrContext, type Prompt } from "./ivr.ts";

const queues = { refunds: "00000000-0000-4000-8000-00000000000a", general: "00000000-0000-4000-8000-00000000000b" };
const flow = exampleFlow(queues);
const ctx = (over: Partial<IvrContext> = {}): IvrContext => ({
  now: new Date("2026-11-26T10:00:00Z"),
  from: "+8613800000000",
  to: "+15005550006",
  isOpen: () => true,
  lookup: async () => ({}),
  ...over,
});
const say = (p: Prompt[]) => p.map((x) => ("say" in x ? x.say : "")).join(" ");

describe("IVR interpreter", () => {
  it("greets and asks the menu, then a key press routes a refund to the billing queue with its skills and priority", async () => {
    const first = await runIvr(flow, startState(flow), null, ctx());
    expect(first.step.kind).toBe("gather");
    expect(say(first.step.prompts)).toContain("感谢致电");
    const second = await runIvr(flow, first.state, { digits: "1" }, ctx());
    expect(second.step).toMatchObject({ kind: "enqueue", node: { queueId: queues.refunds } });
    expect(second.state).toMatchObject({
      priority: 5,
      skills: [{ skill: "billing", minLevel: 2 }],
      attributes: { topic: "refund" },
    });
    expect(second.state.path.map((p) => p.node)).toEqual(["menu", "refunds_queue"]);
  });

  it("hears a Chinese keyword inside a sentence, and an English one in any case", async () => {
    const menu = (await runIvr(flow, startState(flow), null, ctx())).state;
    expect((await runIvr(flow, menu, { speech: "你好，我想退款。" }, ctx())).step).toMatchObject({
      kind: "enqueue",
      node: { queueId: queues.refunds },
    });
    expect((await runIvr(flow, menu, { speech: "我要查询订单" }, ctx())).state.attributes.topic).toBe("order status");
    expect((await runIvr(flow, menu, { speech: "I need a Refund please" }, ctx())).step).toMatchObject({
      kind: "enqueue",
      node: { queueId: queues.refunds },
    });
    expect(spokenMatch("怎么 退 款", ["退款"])).toBe(true);
  });

  it("asks again politely after an unexpected key, and takes the fallback after the last attempt", async () => {
    let state = (await runIvr(flow, startState(flow), null, ctx())).state;
    for (let n = 1; n < 3; n++) {
      const r = await runIvr(flow, state, { digits: "7" }, ctx());
      expect(r.step.kind).toBe("gather");
      expect(say(r.step.prompts)).toContain("抱歉");
      state = r.state;
    }
    const last = await runIvr(flow, state, {}, ctx());
    expect(last.step).toMatchObject({ kind: "enqueue", node: { queueId: queues.general } });
    expect(say(last.step.prompts)).toContain("抱歉");
  });

  it("switches language on a branch that says so", async () => {
    const menu = (await runIvr(flow, startState(flow), null, ctx())).state;
    const english = await runIvr(flow, menu, { digits: "9" }, ctx());
    expect(english.state.language).toBe("en");
    expect(english.step.prompts[0]).toMatchObject({ language: "en" });
    expect(say(english.step.prompts)).toContain("For refunds press 1");
  });

  const lookupFlow = IvrFlow.parse({
    start: "ask",
    language: "en",
    nodes: {
      ask: {
        type: "gather",
        prompt: "Enter your order number",
        numDigits: 6,
        branches: [{ digits: "0", next: "agent" }],
        anyInputNext: "find",
        saveAs: "order",
        fallback: "agent",
      },
      find: {
        type: "lookup",
        url: "http://orders.example.test/status",
        timeoutMs: 500,
        assign: { status: "order.status" },
        next: "tell",
        fallback: "sorry",
      },
      tell: { type: "say", text: "Order {{order}} is {{status}}.", next: "bye" },
      sorry: { type: "say", text: "We could not find that order.", next: "agent" },
      agent: { type: "enqueue", queueId: queues.general },
      bye: { type: "hangup" },
    },
  });

  it("reads back what an HTTP lookup returned, with the caller's number and input as parameters", async () => {
    let asked: Record<string, string> = {};
    const state = (await runIvr(lookupFlow, startState(lookupFlow), null, ctx())).state;
    const r = await runIvr(
      lookupFlow,
      state,
      { digits: "123456" },
      ctx({ lookup: async (_u, _t, q) => ((asked = q), { order: { status: "shipped" } }) }),
    );
    expect(asked).toMatchObject({ from: "+8613800000000", order: "123456" });
    expect(r.step.kind).toBe("hangup");
    expect(say(r.step.prompts)).toBe("Order 123456 is shipped.");
  });

  it("takes the lookup's fallback when it fails, times out or answers garbage", async () => {
    const state = (await runIvr(lookupFlow, startState(lookupFlow), null, ctx())).state;
    for (const lookup of [
      async () => Promise.reject(new Error("timeout")),
      async () => "<html>",
      async () => ({ order: { status: { nested: true } } }),
    ]) {
      const r = await runIvr(lookupFlow, state, { digits: "123456" }, ctx({ lookup }));
      expect(r.step).toMatchObject({ kind: "enqueue" });
      expect(say(r.step.prompts)).toContain("could not find");
    }
  });

  it("checks business hours", async () => {
    const hours = IvrFlow.parse({
      start: "h",
      nodes: {
        h: {
          type: "hours",
          hours: { timeZone: "Asia/Shanghai", weekly: { mon: [["09:00", "18:00"]] } },
          open: "q",
          closed: "vm",
        },
        q: { type: "enqueue", queueId: queues.general },
        vm: { type: "voicemail", prompt: "closed" },
      },
    });
    expect((await runIvr(hours, startState(hours), null, ctx({ isOpen: () => false }))).step.kind).toBe("voicemail");
    expect((await runIvr(hours, startState(hours), null, ctx({ isOpen: () => true }))).step.kind).toBe("enqueue");
  });
});
