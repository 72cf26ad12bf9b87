import { useCallback, useEffect, useState } from "react";
import { request } from "./client.ts";
import { useI18n } from "./i18n.ts";
import { href } from "./route.ts";
import { ticketNumber, TicketStatusBadge } from "./ticket-badges.tsx";
import type { Ticket } from "./ticket-model.ts";
import { useFrames } from "./workspace.tsx";

/** The contact's tickets in the contact panel, newest first: the ticket on the contact's timeline. */
export function ContactTickets({ contactId }: { contactId: string }) {
  const { t } = useI18n();
  const [items, setItems] = useState<Ticket[]>([]);
  const load = useCallback(
    () =>
      request<{ items: Ticket[] }>(`/contacts/${contactId}/tickets`).then(
        (r) => setItems(r.items),
        () => {},
      ),
    [contactId],
  );
  useEffect(() => void load(), [load]);
  useFrames(
    (f) => {
      if ((f.type === "ticket.created" || f.type === "ticket.updated") && f.ticket?.contactId === contactId)
        void load();
    },
    [contactId, load],
  );
  return (
    <section aria-labelledby="contact-tickets-h">
      <h3 id="contact-tickets-h">{t("tickets.contactTickets")}</h3>
      <ul className="history" data-testid="contact-tickets">
        {items.map((x) => (
          <li key={x.id}>
            <a href={href({ page: "tickets", view: "all", ticketId: x.id })}>
              <strong>{ticketNumber(x.number)}</strong> <span dir="auto">{x.title}</span>{" "}
              <TicketStatusBadge status={x.status} />
            </a>
          </li>
        ))}
        {!items.length && <li className="hint">{t("tickets.contactNone")}</li>}
      </ul>
    </section>
  );
}
