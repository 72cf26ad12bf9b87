import { describe, expect, it } from "bun:test";
import type { DomainEvent } from "../conversations/event.ts";
import { rescores } from "./listeners.ts";

const event = (type: string, payload: DomainEvent["payload"], extra: Partial<DomainEvent> = {}): DomainEvent => ({
  workspaceId: "w",
  seq: 1,
  type,
  conversationId: "c",
  public: false,
  payload,
  ...extra,
});

describe("what makes a conversation be scored again", () => {
  it("a new message, a call that ended, a resolution", () => {
    expect(rescores(event("item.created", { item: { type: "message" } }))).toBe(true);
    expect(rescores(event("item.updated", { item: { type: "call", data: { endedAt: "2026-01-01T00:00:00Z" } } }))).toBe(
      true,
    );
    expect(rescores(event("conversation.updated", { changes: { status: "resolved" } }))).toBe(true);
  });
  it("not a note's or a live call's change, typing, a label, or its own alert", () => {
    expect(rescores(event("item.created", { item: { type: "note" } }))).toBe(false);
    expect(rescores(event("item.updated", { item: { type: "call", data: { endedAt: null } } }))).toBe(false);
    expect(rescores(event("typing", {}, { ephemeral: true }))).toBe(false);
    expect(rescores(event("conversation.updated", { changes: { labels: ["vip"] } }))).toBe(false);
    expect(rescores(event("qa.alert", { finding: {} }))).toBe(false);
    expect(rescores(event("item.created", { item: { type: "message" } }, { conversationId: null }))).toBe(false);
  });
});
