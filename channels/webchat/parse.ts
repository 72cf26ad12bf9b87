import { z } from "zod";
import { MAX_TEXT, type NormalizedInbound } from "../../conversations/channel.ts";
import type { VisitorClaims } from "./verify.ts";

export const WidgetMessage = z.object({
  text: z.string().max(MAX_TEXT, `must be at most ${MAX_TEXT} characters`).optional(),
  attachments: z.array(z.uuid()).max(10).optional(),
  /** Chosen by the widget per message, so a retried POST is stored once. */
  clientId: z.string().min(1).max(100).optional(),
});

/** A visitor's message, already authenticated by its token, as the core's NormalizedInbound. */
export function parseWidgetMessage(body: z.infer<typeof WidgetMessage>, visitor: VisitorClaims): NormalizedInbound {
  return {
    channel: "webchat",
    channelAccountId: visitor.i,
    // Namespaced by contact: one visitor can never collide with (or read back) another's message id.
    externalId: `${visitor.c}:${body.clientId ?? crypto.randomUUID()}`,
    from: { kind: "visitor", value: visitor.v },
    kind: body.attachments?.length ? "media" : "text",
    text: body.text,
    attachments: body.attachments ?? [],
    sentAt: new Date(),
  };
}

/** The widget's own id for one of its visitor's messages, from the external id made above. */
export function clientIdOf(item: { channel: string | null; direction: string | null; externalId?: string | null }) {
  if (item.channel !== "webchat" || item.direction !== "in" || !item.externalId) return null;
  return item.externalId.slice(item.externalId.indexOf(":") + 1);
}
