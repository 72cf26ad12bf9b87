import { useEffect, useState } from "react";
import type { MessageKey } from "./catalog.ts";
import { ApiError, request } from "./client.ts";
import { useI18n } from "./i18n.ts";
import type { Conversation, Item } from "./model.ts";
import { navigate } from "./route.ts";
import { useTicketSetup } from "./ticket-badges.tsx";
import { TICKET_PRIORITIES, typeLabel, type Ticket, type TicketPriority } from "./ticket-model.ts";
import { useWorkspace } from "./workspace.tsx";

/** At most this many of the customer's latest messages are offered to carry into the ticket (as the API takes). */
const CARRIED = 20;

/** "Create ticket" in a conversation's header, and its dialog. */
export function CreateTicketButton({ conversation }: { conversation: Conversation }) {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" onClick={() => setOpen(true)} data-testid="create-ticket">
        {t("tickets.create")}
      </button>
      {open && <CreateTicketDialog conversation={conversation} onClose={() => setOpen(false)} />}
    </>
  );
}

function CreateTicketDialog({ conversation, onClose }: { conversation: Conversation; onClose(): void }) {
  const { t, locale, when } = useI18n();
  const { teams } = useWorkspace();
  const { types } = useTicketSetup();
  const [messages, setMessages] = useState<Item[] | null>(null);
  const [carried, setCarried] = useState<Set<string>>(new Set());
  const [title, setTitle] = useState("");
  const [type, setType] = useState("");
  const [priority, setPriority] = useState<TicketPriority>("normal");
  const [teamId, setTeamId] = useState(conversation.teamId ?? "");
  const [error, setError] = useState<{ message: string; field?: string } | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    request<{ items: Item[] }>(`/conversations/${conversation.id}/timeline?limit=100`).then(
      (page) => {
        const fromCustomer = page.items
          .filter((i) => i.type === "message" && i.direction === "in" && (i.text || i.attachments.length))
          .slice(-CARRIED);
        setMessages(fromCustomer);
        setCarried(new Set(fromCustomer.map((m) => m.id)));
        const last = fromCustomer[fromCustomer.length - 1]?.text?.trim() ?? "";
        setTitle((old) => old || last.replace(/\s+/g, " ").slice(0, 120));
      },
      () => setMessages([]),
    );
  }, [conversation.id]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, [onClose]);

  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      const ticket = await request<Ticket>(`/conversations/${conversation.id}/tickets`, {
        body: {
          title: title.trim(),
          priority,
          ...(type ? { type } : {}),
          ...(teamId ? { teamId } : {}),
          messageIds: [...carried],
        },
      });
      onClose();
      navigate({ page: "tickets", view: "all", ticketId: ticket.id });
    } catch (e) {
      setError(e instanceof ApiError ? { message: e.message, field: e.field } : { message: t("error.generic") });
      setBusy(false);
    }
  };

  const toggle = (id: string) =>
    setCarried((old) => {
      const next = new Set(old);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  return (
    <div className="dialog-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <form
        className="dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby="create-ticket-h"
        data-testid="create-ticket-dialog"
        onSubmit={(e) => (e.preventDefault(), void submit())}
      >
        <h2 id="create-ticket-h">{t("tickets.create")}</h2>
        <label className="field">
          <span>{t("tickets.title")}</span>
          <input
            value={title}
            onChange={(e) => setTitle(e.target.value)}
            required
            maxLength={300}
            dir="auto"
            autoFocus
          />
        </label>
        <div className="row-form">
          <label className="field">
            <span>{t("tickets.type")}</span>
            <select value={type} onChange={(e) => setType(e.target.value)} data-testid="create-type">
              <option value="">{t("tickets.noType")}</option>
              {types.map((x) => (
                <option key={x.id} value={x.name}>
                  {typeLabel(types, x.name, locale)}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>{t("tickets.priority")}</span>
            <select
              value={priority}
              onChange={(e) => setPriority(e.target.value as TicketPriority)}
              data-testid="create-priority"
            >
              {TICKET_PRIORITIES.map((p) => (
                <option key={p} value={p}>
                  {t(`tickets.priority.${p}` as MessageKey)}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>{t("filter.team")}</span>
            <select value={teamId} onChange={(e) => setTeamId(e.target.value)} data-testid="create-team">
              <option value="">{t("tickets.noTeam")}</option>
              {teams.map((x) => (
                <option key={x.id} value={x.id}>
                  {x.name}
                </option>
              ))}
            </select>
          </label>
        </div>
        <fieldset className="carried" aria-busy={messages === null}>
          <legend>{t("tickets.carry")}</legend>
          {messages?.map((m) => (
            <label key={m.id} className="field inline">
              <input
                type="checkbox"
                checked={carried.has(m.id)}
                onChange={() => toggle(m.id)}
                data-testid="carry-message"
              />
              <span dir="auto">{m.text ?? "📎"}</span>
              <time dateTime={m.createdAt}>{when(m.createdAt)}</time>
            </label>
          ))}
          {messages?.length === 0 && <p className="hint">{t("tickets.carryNone")}</p>}
        </fieldset>
        {error && (
          <p className="error" role="alert" data-field={error.field ?? ""}>
            {error.field ? `${error.field}: ${error.message}` : error.message}
          </p>
        )}
        <div className="row-form">
          <button type="submit" className="primary" disabled={busy || !title.trim()} data-testid="create-ticket-submit">
            {t("tickets.createSubmit")}
          </button>
          <button type="button" onClick={onClose}>
            {t("common.cancel")}
          </button>
        </div>
      </form>
    </div>
  );
}
