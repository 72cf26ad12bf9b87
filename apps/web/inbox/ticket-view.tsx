import { useCallback, useEffect, useState } from "react";
import type { MessageKey } from "./catalog.ts";
import { ApiError, request } from "./client.ts";
import { useI18n } from "./i18n.ts";
import { SlaClock } from "./sla-clock.tsx";
import { ticketNumber, TicketStatusBadge, useTicketSetup } from "./ticket-badges.tsx";
import { TicketEntries } from "./ticket-entries.tsx";
import { TicketFields } from "./ticket-fields.tsx";
import { TicketLinks } from "./ticket-links.tsx";
import { TICKET_PRIORITIES, TICKET_STATUSES, typeLabel, type Ticket, type TicketDetail } from "./ticket-model.ts";
import { useFrames, useWorkspace } from "./workspace.tsx";

export type TicketPatch = Partial<
  Pick<Ticket, "status" | "priority" | "type" | "teamId" | "assigneeId" | "title" | "description" | "fields">
>;

/** One ticket: what it is, who has it, its fields, links and history. */
export function TicketPane({ id, view }: { id: string; view: string }) {
  const { t, locale, when } = useI18n();
  const { me, teams, users } = useWorkspace();
  const { types, fields } = useTicketSetup();
  const [ticket, setTicket] = useState<TicketDetail | null>(null);
  const [error, setError] = useState<{ message: string; field?: string } | null>(null);
  const [history, setHistory] = useState(0);

  const load = useCallback(
    () =>
      request<TicketDetail>(`/tickets/${id}`).then(setTicket, (e) =>
        setError({ message: e instanceof ApiError && e.status === 404 ? t("tickets.gone") : t("error.generic") }),
      ),
    [id, t],
  );
  useEffect(() => void load(), [load]);
  useFrames(
    (f) => {
      if (f.type !== "ticket.updated" || !ticket || f.ticketId !== ticket.id) return;
      setTicket((old) => (old ? { ...old, ...(f.ticket as Ticket), sla: f.ticket.sla ?? old.sla } : old));
      setHistory((n) => n + 1);
      // Links and conversations are not in the event's ticket: someone else's change to them is read again.
      const changes = (f.changes ?? []) as { field?: string }[];
      if (changes.some((c) => c.field === "link" || c.field === "conversation")) void load();
    },
    [ticket?.id, load],
  );

  /** PATCH and show the answer; a refused change shows its reason next to the field it names. */
  const change = async (patch: TicketPatch) => {
    if (!ticket) return false;
    setError(null);
    try {
      const updated = await request<Ticket>(`/tickets/${ticket.id}`, { method: "PATCH", body: patch });
      setTicket((old) => (old ? { ...old, ...updated, sla: updated.sla ?? old.sla } : old));
      setHistory((n) => n + 1);
      return true;
    } catch (e) {
      setError(e instanceof ApiError ? { message: e.message, field: e.field } : { message: t("error.generic") });
      return false;
    }
  };

  if (!ticket)
    return (
      <section className="conversation-pane">
        {error ? (
          <p className="error" role="alert">
            {error.message}
          </p>
        ) : (
          <div aria-busy="true" />
        )}
      </section>
    );
  const people = users.filter((u) => u.role !== "knowledge_editor");
  // A type deleted since (kept as text on the ticket) is still shown as the ticket's.
  const typeChoices = types.map((x) => x.name);
  if (ticket.type && !typeChoices.includes(ticket.type)) typeChoices.push(ticket.type);
  const fieldError = error?.field?.startsWith("fields.") ? error : null;
  return (
    <section
      className="conversation-pane ticket-pane"
      aria-label={t("tickets.ticket")}
      data-testid="ticket"
      data-ticket-id={ticket.id}
      data-status={ticket.status}
    >
      <header className="conversation-header">
        <a className="back" href={`#/tickets/${view}`} aria-label={t("tickets.back")}>
          ←
        </a>
        <strong className="ticket-number" data-testid="ticket-heading-number">
          {ticketNumber(ticket.number)}
        </strong>
        <TicketStatusBadge status={ticket.status} />
        {!["solved", "closed"].includes(ticket.status) && (
          <SlaClock sla={ticket.sla} dueAt={ticket.sla ? null : ticket.dueAt} />
        )}
        {ticket.contact && <span className="hint">{ticket.contact.name ?? t("contact.anonymous")}</span>}
        <span className="hint">{t("tickets.createdAt", { when: when(ticket.createdAt) })}</span>
      </header>
      <div className="ticket-body">
        <TitleAndDescription ticket={ticket} onSave={change} />
        <div className="ticket-attributes">
          <Pick
            label={t("tickets.status")}
            testId="ticket-status-select"
            value={ticket.status}
            onChange={(status) => change({ status: status as Ticket["status"] })}
            options={TICKET_STATUSES.map((s) => [s, t(`tickets.status.${s}` as MessageKey)])}
          />
          <Pick
            label={t("tickets.priority")}
            testId="ticket-priority-select"
            value={ticket.priority}
            onChange={(priority) => change({ priority: priority as Ticket["priority"] })}
            options={TICKET_PRIORITIES.map((p) => [p, t(`tickets.priority.${p}` as MessageKey)])}
          />
          <Pick
            label={t("tickets.type")}
            testId="ticket-type-select"
            value={ticket.type ?? ""}
            empty={t("tickets.noType")}
            onChange={(type) => change({ type: type || null })}
            options={typeChoices.map((name) => [name, typeLabel(types, name, locale)])}
          />
          <Pick
            label={t("filter.team")}
            testId="ticket-team-select"
            value={ticket.teamId ?? ""}
            empty={t("tickets.noTeam")}
            onChange={(teamId) => change({ teamId: teamId || null })}
            options={teams.map((x) => [x.id, x.name])}
          />
          <Pick
            label={t("tickets.assignee")}
            testId="ticket-assignee-select"
            value={ticket.assigneeId ?? ""}
            empty={t("tickets.unassigned")}
            onChange={(assigneeId) => change({ assigneeId: assigneeId || null })}
            options={people.map((u) => [u.id, u.id === me.id ? t("conversation.me", { name: u.name }) : u.name])}
          />
        </div>
        {error && !fieldError && (
          <p className="error" role="alert" data-field={error.field ?? ""}>
            {error.message}
          </p>
        )}
        <TicketFields
          fields={fields}
          values={ticket.fields}
          error={fieldError}
          onSave={(values) => change({ fields: values })}
        />
        <TicketLinks ticket={ticket} onChanged={load} />
        <TicketEntries ticketId={ticket.id} refresh={history} types={types} fields={fields} />
      </div>
    </section>
  );
}

function TitleAndDescription({ ticket, onSave }: { ticket: Ticket; onSave(p: TicketPatch): Promise<boolean> }) {
  const { t } = useI18n();
  const [editing, setEditing] = useState(false);
  const [title, setTitle] = useState(ticket.title);
  const [description, setDescription] = useState(ticket.description);
  if (!editing)
    return (
      <div className="ticket-summary">
        <h2 dir="auto" data-testid="ticket-title">
          {ticket.title}
        </h2>
        {ticket.description && (
          <p className="ticket-description" dir="auto" data-testid="ticket-description">
            {ticket.description}
          </p>
        )}
        <button
          type="button"
          onClick={() => (setTitle(ticket.title), setDescription(ticket.description), setEditing(true))}
          data-testid="ticket-edit"
        >
          {t("common.edit")}
        </button>
      </div>
    );
  return (
    <form
      className="ticket-summary"
      onSubmit={async (e) => {
        e.preventDefault();
        if (await onSave({ title: title.trim(), description })) setEditing(false);
      }}
    >
      <label className="field">
        <span>{t("tickets.title")}</span>
        <input value={title} onChange={(e) => setTitle(e.target.value)} required maxLength={300} dir="auto" />
      </label>
      <label className="field">
        <span>{t("tickets.description")}</span>
        <textarea value={description} onChange={(e) => setDescription(e.target.value)} rows={4} dir="auto" />
      </label>
      <div className="row-form">
        <button type="submit" className="primary">
          {t("common.save")}
        </button>
        <button type="button" onClick={() => setEditing(false)}>
          {t("common.cancel")}
        </button>
      </div>
    </form>
  );
}

function Pick({
  label,
  value,
  onChange,
  options,
  empty,
  testId,
}: {
  label: string;
  value: string;
  onChange(v: string): void;
  options: [string, string][];
  empty?: string;
  testId: string;
}) {
  return (
    <label className="field">
      <span>{label}</span>
      <select value={value} onChange={(e) => onChange(e.target.value)} data-testid={testId}>
        {empty !== undefined && <option value="">{empty}</option>}
        {options.map(([v, text]) => (
          <option key={v} value={v}>
            {text}
          </option>
        ))}
      </select>
    </label>
  );
}
