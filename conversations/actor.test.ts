import { expect, it } from "bun:test";
import { canSeeEvent, type Actor } from "./actor.ts";
import type { DomainEvent } from "./event.ts";

const actor = (role: Actor["role"], teamIds: string[] = []): Actor => ({
  userId: "me",
  workspaceId: "w",
  role,
  name: "X",
  teamIds,
});
const event = (
  scope: DomainEvent["payload"]["scope"],
  previousScope?: DomainEvent["payload"]["scope"],
): DomainEvent => ({
  workspaceId: "w",
  seq: 1,
  type: "item.created",
  conversationId: "c",
  public: false,
  payload: { scope, previousScope },
});

it("sends an agent the events of own, unassigned and own-team conversations only", () => {
  const agent = actor("agent", ["billing"]);
  expect(canSeeEvent(agent, event({ assigneeId: null, teamId: null }))).toBe(true);
  expect(canSeeEvent(agent, event({ assigneeId: "me", teamId: null }))).toBe(true);
  expect(canSeeEvent(agent, event({ assigneeId: "other", teamId: "billing" }))).toBe(true);
  expect(canSeeEvent(agent, event({ assigneeId: "other", teamId: "tech" }))).toBe(false);
  // Reassigned away from me: I still hear that it left.
  expect(canSeeEvent(agent, event({ assigneeId: "other", teamId: null }, { assigneeId: "me", teamId: null }))).toBe(
    true,
  );
  expect(canSeeEvent(actor("supervisor"), event({ assigneeId: "other", teamId: "tech" }))).toBe(true);
  expect(canSeeEvent(actor("knowledge_editor"), event({ assigneeId: null, teamId: null }))).toBe(false);
});
