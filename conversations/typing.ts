import type { Conversation } from "../db/schema/index.ts";
import type { EventBus } from "./bus.ts";
import { scopeOf } from "./conversation.ts";

/**
 * Typing is ephemeral: published on the bus (so every node's sockets get it) but never stored or
 * replayed. An agent's typing is public (the widget shows it); a visitor's goes to agents only.
 */
export function publishTyping(
  bus: Pick<EventBus, "publish">,
  conversation: Pick<Conversation, "id" | "workspaceId" | "contactId" | "assigneeId" | "teamId">,
  sender: { type: "agent" | "contact"; name: string | null },
  typing: boolean,
) {
  bus.publish([
    {
      workspaceId: conversation.workspaceId,
      seq: 0,
      type: "typing",
      conversationId: conversation.id,
      public: sender.type === "agent",
      ephemeral: true,
      payload: { typing, sender, scope: scopeOf(conversation) },
    },
  ]);
}
