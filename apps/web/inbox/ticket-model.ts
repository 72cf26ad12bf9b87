/**
 * The ticket shapes the inbox reads: the server's own TicketView, and the few answers (detail, history,
 * types, fields, notifications) as the ticket API documents them.
 */
import type { TicketView } from "../../../tickets/ticket.ts";
import type {
  TicketFieldKind,
  TicketFieldValue,
  TicketLinkKind,
  TicketPriority,
  TicketStatus,
} from "../../../db/schema/ticket.ts";
import type { SlaView } from "./sla-clock.tsx";

export const TICKET_STATUSES = ["new", "open", "pending_customer", "pending_third_party", "solved", "closed"] as const;
export const TICKET_PRIORITIES = ["low", "normal", "high", "urgent"] as const;
export const TICKET_LINK_KINDS = ["parent", "duplicate", "related"] as const;
export const TICKET_FIELD_KINDS = ["text", "number", "date", "select"] as const;

export type { TicketFieldKind, TicketFieldValue, TicketLinkKind, TicketPriority, TicketStatus };

export type Ticket = Omit<TicketView, "sla"> & { sla: SlaView | null };

/** GET /tickets/{id}: the ticket with its links to other tickets and the conversations it is about. */
export type TicketDetail = Ticket & {
  links: {
    ticketId: string;
    number: number;
    title: string;
    status: TicketStatus;
    kind: TicketLinkKind;
    direction: "outgoing" | "incoming" | string;
  }[];
  conversations: { id: string; channel: string; status: string; lastMessageText: string | null }[];
};

export type TicketEntry = {
  id: string;
  kind: "comment" | "change" | "customer_message" | "notification";
  body: string;
  author: { id: string; name: string } | null;
  mentions: string[];
  data: Record<string, any>;
  createdAt: string;
};

export type TicketType = { id: string; name: string; labels: Record<string, string>; position?: number };
export type TicketField = {
  id: string;
  key: string;
  label: string;
  kind: TicketFieldKind;
  options: string[];
  required: boolean;
  position?: number;
};

export type Notification = {
  id: string;
  kind: string;
  text: string;
  ticketId: string | null;
  conversationId: string | null;
  readAt: string | null;
  createdAt: string;
};

/** A type's name in the reader's language, else its stored name. */
export const typeLabel = (types: TicketType[], name: string | null, locale: string) => {
  if (!name) return "";
  const type = types.find((x) => x.name === name);
  return type?.labels[locale] || type?.labels.en || name;
};
