import { useState } from "react";
import type { MessageKey } from "./catalog.ts";
import { ChannelBadge } from "./channel-badge.tsx";
import { ApiError, request } from "./client.ts";
import { useI18n } from "./i18n.ts";
import type { Channel } from "./model.ts";
import { href } from "./route.ts";
import { ticketNumber, TicketStatusBadge } from "./ticket-badges.tsx";
import { TICKET_LINK_KINDS, type Ticket, type TicketDetail, type TicketLinkKind } from "./ticket-model.ts";
import { previewText } from "./masked-text.tsx";

/** Other tickets this one is linked to (added by number), and the conversations it is about. */
export function TicketLinks({ ticket, onChanged }: { ticket: TicketDetail; onChanged(): void }) {
  const { t } = useI18n();
  const [number, setNumber] = useState("");
  const [kind, setKind] = useState<TicketLinkKind>("related");
  const [error, setError] = useState<string | null>(null);
  const run = async (fn: () => Promise<unknown>) => {
    setError(null);
    try {
      await fn();
      onChanged();
      return true;
    } catch (e) {
      setError(e instanceof ApiError ? e.message : t("error.generic"));
      return false;
    }
  };
  const add = () =>
    run(async () => {
      // The number names the ticket; the link takes its id.
      const other = await request<Ticket>(`/tickets/${encodeURIComponent(number.trim().replace(/^#/, ""))}`);
      await request(`/tickets/${ticket.id}/links`, { body: { ticketId: other.id, kind } });
    });
  return (
    <section className="ticket-links" aria-labelledby="ticket-links-h">
      <h3 id="ticket-links-h">{t("tickets.links")}</h3>
      <ul data-testid="ticket-links">
        {ticket.links.map((l) => (
          <li key={`${l.ticketId}-${l.kind}-${l.direction}`}>
            <span className="hint">
              {t(`tickets.link.${l.kind}.${l.direction === "incoming" ? "in" : "out"}` as MessageKey)}
            </span>{" "}
            <a href={href({ page: "tickets", view: "all", ticketId: l.ticketId })}>
              {ticketNumber(l.number)} <span dir="auto">{l.title}</span>
            </a>{" "}
            <TicketStatusBadge status={l.status} />
            <button
              type="button"
              aria-label={t("tickets.unlink", { number: ticketNumber(l.number) })}
              onClick={() => run(() => request(`/tickets/${ticket.id}/links/${l.ticketId}`, { method: "DELETE" }))}
            >
              ×
            </button>
          </li>
        ))}
      </ul>
      <form
        className="row-form"
        onSubmit={async (e) => {
          e.preventDefault();
          if (number.trim() && (await add())) setNumber("");
        }}
      >
        <input
          value={number}
          onChange={(e) => setNumber(e.target.value)}
          placeholder="#1042"
          aria-label={t("tickets.linkNumber")}
          data-testid="link-number"
        />
        <select
          value={kind}
          onChange={(e) => setKind(e.target.value as TicketLinkKind)}
          aria-label={t("tickets.linkKind")}
          data-testid="link-kind"
        >
          {TICKET_LINK_KINDS.map((k) => (
            <option key={k} value={k}>
              {t(`tickets.link.${k}.out` as MessageKey)}
            </option>
          ))}
        </select>
        <button type="submit">{t("tickets.link")}</button>
      </form>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <h3>{t("tickets.conversations")}</h3>
      <ul data-testid="ticket-conversations">
        {ticket.conversations.map((c) => (
          <li key={c.id}>
            <a href={href({ page: "inbox", view: "all", conversationId: c.id })}>
              <ChannelBadge channel={c.channel as Channel} /> <span dir="auto">{previewText(c.lastMessageText)}</span>{" "}
              <small>{t(`status.${c.status}` as MessageKey)}</small>
            </a>
          </li>
        ))}
        {!ticket.conversations.length && <li className="hint">{t("tickets.noConversations")}</li>}
      </ul>
    </section>
  );
}
