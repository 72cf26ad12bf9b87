import type { BusMessage } from "../conversations/bus.ts";
import type { TimelineView } from "../conversations/timeline.ts";
import type { Core } from "../conversations/transaction.ts";
import { log } from "../platform/log.ts";
import { customerReplied } from "./customer-reply.ts";
import { ticketFromMail } from "./email-ticket.ts";

/**
 * What tickets do when conversations move: mail to a ticket address becomes a ticket, and a customer's
 * message reaches the open tickets of its conversation. Every node hears every event (maybe twice); the
 * work locks rows and checks what is already written, so it is the same whichever node does it. An
 * event too big for NOTIFY reaches other nodes as a reference only: the node that wrote it does the
 * work. On one node, a conversation's events are handled in the order heard.
 */
export class TicketListeners {
  private unsubscribe: (() => void) | undefined;
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly core: Core) {}

  start() {
    this.unsubscribe ??= this.core.bus.subscribe((m: BusMessage) => {
      if (!("type" in m) || m.ephemeral || !m.conversationId) return;
      const { workspaceId, conversationId } = m;
      if (m.type === "conversation.created")
        this.queue(conversationId, () => ticketFromMail(this.core, workspaceId, conversationId));
      else if (m.type === "item.created") {
        const item = m.payload.item as TimelineView | undefined;
        if (item?.type === "message" && item.direction === "in")
          this.queue(conversationId, () => customerReplied(this.core, workspaceId, conversationId, item));
      }
    });
  }

  private queue(key: string, work: () => Promise<void>) {
    const next = (this.chains.get(key) ?? Promise.resolve())
      .then(work)
      .catch((err: unknown) => log.error("tickets: could not follow a conversation", { err, key }));
    this.chains.set(key, next);
    void next.finally(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
  }

  async stop() {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await Promise.allSettled([...this.chains.values()]);
  }
}
