import { useCallback, useEffect, useState } from "react";
import type { MessageKey } from "./catalog.ts";
import { request } from "./client.ts";
import { useI18n } from "./i18n.ts";
import type { Item } from "./model.ts";
import { href } from "./route.ts";
import type { TicketField, TicketPriority, TicketStatus, TicketType } from "./ticket-model.ts";

/** `#1042`: how people say a ticket's number. */
export const ticketNumber = (n: number) => `#${n}`;

export function TicketStatusBadge({ status }: { status: TicketStatus }) {
  const { t } = useI18n();
  return (
    <span className={`ticket-status ticket-status-${status}`} data-testid="ticket-status" data-status={status}>
      {t(`tickets.status.${status}` as MessageKey)}
    </span>
  );
}

export function TicketPriorityBadge({ priority }: { priority: TicketPriority }) {
  const { t } = useI18n();
  return (
    <span className={`ticket-priority ticket-priority-${priority}`} data-testid="ticket-priority">
      {t(`tickets.priority.${priority}` as MessageKey)}
    </span>
  );
}

/** The workspace's ticket types and custom fields, loaded once per screen that offers them. */
export function useTicketSetup() {
  const [types, setTypes] = useState<TicketType[]>([]);
  const [fields, setFields] = useState<TicketField[]>([]);
  const reload = useCallback(async () => {
    const [t, f] = await Promise.all([
      request<{ items: TicketType[] }>("/ticket-types").catch(() => ({ items: [] })),
      request<{ items: TicketField[] }>("/ticket-fields").catch(() => ({ items: [] })),
    ]);
    setTypes(t.items);
    setFields(f.items);
  }, []);
  useEffect(() => void reload(), [reload]);
  return { types, fields, reload };
}

/** The conversation's timeline item for a ticket made from it: a link to the ticket. */
export function TicketCreatedEvent({ item }: { item: Item }) {
  const { t, when } = useI18n();
  const d = item.data as { ticketId?: string; number?: number; title?: string; senderName?: string };
  const who = item.sender.name ?? d.senderName ?? t("timeline.system");
  return (
    <li
      className="item item-event"
      data-testid="timeline-item"
      data-seq={item.seq}
      data-type="event"
      data-event={item.eventType ?? ""}
    >
      <span dir="auto">
        {t("tickets.event.created", { who })}{" "}
        <a href={href({ page: "tickets", view: "all", ticketId: d.ticketId ?? null })} data-testid="ticket-link">
          {d.number ? ticketNumber(d.number) : ""} {d.title ?? ""}
        </a>
      </span>
      <time dateTime={item.createdAt}>{when(item.createdAt)}</time>
    </li>
  );
}
