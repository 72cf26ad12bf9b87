import { expect, it } from "bun:test";
import { envelopes } from "./bus.ts";
import type { DomainEvent } from "./event.ts";

const event = (seq: number, text: string): DomainEvent => ({
  workspaceId: "w",
  seq,
  type: "item.created",
  conversationId: "c",
  public: true,
  payload: { item: { text } },
});

it("packs a transaction's events into as few NOTIFY payloads as fit under the 8000-byte limit", () => {
  const small = envelopes("n1", [event(1, "a"), event(2, "b"), event(3, "c")]);
  expect(small).toHaveLength(1);
  expect(JSON.parse(small[0]!)).toMatchObject({ node: "n1", events: [{ seq: 1 }, { seq: 2 }, { seq: 3 }] });

  const many = envelopes(
    "n1",
    Array.from({ length: 40 }, (_, i) => event(i + 1, "消息".repeat(200))),
  );
  expect(many.length).toBeGreaterThan(1);
  for (const p of many) expect(Buffer.byteLength(p)).toBeLessThan(8000);
  expect(many.flatMap((p) => JSON.parse(p).events.map((e: DomainEvent) => e.seq))).toEqual(
    Array.from({ length: 40 }, (_, i) => i + 1),
  );

  const [huge] = envelopes("n1", [event(7, "x".repeat(10_000))]);
  expect(JSON.parse(huge!).events).toEqual([{ workspaceId: "w", seq: 7, ref: true }]);
});
