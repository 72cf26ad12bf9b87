import { useCallback, useEffect, useRef, useState } from "react";
import type { MessageKey } from "./catalog.ts";
import { ApiError, request } from "./client.ts";
import { useI18n } from "./i18n.ts";
import type { Person } from "./model.ts";
import { typeLabel, type TicketEntry, type TicketField, type TicketType } from "./ticket-model.ts";
import { useWorkspace } from "./workspace.tsx";

const NAMED_FIELDS = ["status", "priority", "assigneeId", "teamId", "type", "title", "description", "fields"];

/** The `@word` being typed just before the caret, if any: what the mention picker completes. */
export function mentionAt(text: string, caret: number): { start: number; query: string } | null {
  const m = /(^|\s)@([^\s@]*)$/.exec(text.slice(0, caret));
  return m ? { start: caret - m[2]!.length - 1, query: m[2]! } : null;
}

/** A ticket's history (comments, changes, the customer's messages, notices sent) and the comment box. */
export function TicketEntries({
  ticketId,
  refresh,
  types,
  fields,
}: {
  ticketId: string;
  refresh: number;
  types: TicketType[];
  fields: TicketField[];
}) {
  const { t } = useI18n();
  const [items, setItems] = useState<TicketEntry[]>([]);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(
    () =>
      request<{ items: TicketEntry[] }>(`/tickets/${ticketId}/entries`).then(
        (r) => setItems(r.items),
        () => {},
      ),
    [ticketId],
  );
  useEffect(() => void load(), [load, refresh]);
  const comment = async (body: string) => {
    setError(null);
    try {
      await request(`/tickets/${ticketId}/comments`, { body: { body } });
      await load();
      return true;
    } catch (e) {
      setError(e instanceof ApiError ? e.message : t("error.generic"));
      return false;
    }
  };
  return (
    <section className="ticket-history" aria-labelledby="ticket-history-h">
      <h3 id="ticket-history-h">{t("tickets.history")}</h3>
      <ol data-testid="ticket-entries">
        {items.map((e) => (
          <Entry key={e.id} entry={e} types={types} fields={fields} />
        ))}
      </ol>
      <CommentBox onSend={comment} />
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

function Entry({ entry, types, fields }: { entry: TicketEntry; types: TicketType[]; fields: TicketField[] }) {
  const { t, when, locale } = useI18n();
  const { users, teams } = useWorkspace();
  const d = entry.data;
  const who = d.rule?.name
    ? t("tickets.byRule", { rule: d.rule.name })
    : (entry.author?.name ?? (d.by?.name as string | undefined) ?? t("timeline.system"));
  /** A changed value as people read it: names for ids, words for statuses and priorities. */
  const shown = (value: unknown): string => {
    if (value === null || value === undefined || value === "") return "—";
    const v = String(value);
    if (d.field === "status") return t(`tickets.status.${v}` as MessageKey);
    if (d.field === "priority") return t(`tickets.priority.${v}` as MessageKey);
    if (d.field === "assigneeId") return users.find((u) => u.id === v)?.name ?? "…";
    if (d.field === "teamId") return teams.find((x) => x.id === v)?.name ?? "…";
    if (d.field === "type") return typeLabel(types, v, locale);
    return typeof value === "object" ? JSON.stringify(value) : v;
  };
  let text: string;
  if (entry.kind === "change")
    text =
      !d.field || d.field === "created"
        ? t("tickets.entry.created", { who })
        : t("tickets.entry.changed", {
            who,
            field: NAMED_FIELDS.includes(d.field)
              ? t(`tickets.fieldName.${d.field}` as MessageKey)
              : // A custom field's change names it `fields.<key>`: shown by its label.
                (fields.find((f) => `fields.${f.key}` === d.field)?.label ?? String(d.field)),
            from: shown(d.from),
            to: shown(d.to),
          });
  else if (entry.kind === "customer_message")
    text = t("tickets.entry.customer", { who: d.senderName ?? t("contact.anonymous") });
  else if (entry.kind === "notification")
    text =
      d.sent === false
        ? t("tickets.entry.noticeFailed", { error: String(d.reason ?? "") })
        : t("tickets.entry.notice", { channel: d.channel ? t(`channel.${d.channel}` as MessageKey) : "" });
  else text = t("tickets.entry.comment", { who });
  return (
    <li className={`ticket-entry entry-${entry.kind}`} data-testid="ticket-entry" data-kind={entry.kind}>
      <div className="item-head">
        <span dir="auto">{text}</span>
        <time dateTime={entry.createdAt}>{when(entry.createdAt)}</time>
      </div>
      {entry.body && entry.kind !== "change" && (
        <p className="text" dir="auto">
          {entry.body}
        </p>
      )}
    </li>
  );
}

/** The comment box: `@` opens a list of teammates; Enter or a click puts `@Name` in. */
function CommentBox({ onSend }: { onSend(body: string): Promise<boolean> }) {
  const { t } = useI18n();
  const { users } = useWorkspace();
  const [body, setBody] = useState("");
  const [caret, setCaret] = useState(0);
  const [chosen, setChosen] = useState(0);
  const input = useRef<HTMLTextAreaElement>(null);
  const at = mentionAt(body, caret);
  const matches: Person[] = at
    ? users
        .filter((u) => u.role !== "knowledge_editor" && u.name.toLowerCase().includes(at.query.toLowerCase()))
        .slice(0, 8)
    : [];
  const pick = (u: Person) => {
    if (!at) return;
    const next = `${body.slice(0, at.start)}@${u.name} ${body.slice(caret)}`;
    const pos = at.start + u.name.length + 2;
    setBody(next);
    setCaret(pos);
    requestAnimationFrame(() => input.current?.setSelectionRange(pos, pos));
    input.current?.focus();
  };
  return (
    <form
      className="ticket-comment"
      onSubmit={async (e) => {
        e.preventDefault();
        if (body.trim() && (await onSend(body.trim()))) setBody("");
      }}
    >
      <textarea
        ref={input}
        value={body}
        rows={3}
        dir="auto"
        maxLength={10_000}
        placeholder={t("tickets.commentHint")}
        aria-label={t("tickets.comment")}
        data-testid="ticket-comment"
        onChange={(e) => (setBody(e.target.value), setCaret(e.target.selectionStart), setChosen(0))}
        onSelect={(e) => setCaret(e.currentTarget.selectionStart)}
        onKeyDown={(e) => {
          if (!matches.length) return;
          if (e.key === "ArrowDown" || e.key === "ArrowUp") {
            e.preventDefault();
            setChosen((n) => (n + (e.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length);
          } else if (e.key === "Enter" || e.key === "Tab") {
            e.preventDefault();
            pick(matches[chosen] ?? matches[0]!);
          }
        }}
      />
      {matches.length > 0 && (
        <ul className="mention-picker" role="listbox" aria-label={t("tickets.mention")} data-testid="mention-picker">
          {matches.map((u, i) => (
            <li key={u.id} role="option" aria-selected={i === chosen}>
              <button type="button" onMouseDown={(e) => (e.preventDefault(), pick(u))}>
                {u.name}
              </button>
            </li>
          ))}
        </ul>
      )}
      <button type="submit" className="primary" data-testid="ticket-comment-send">
        {t("tickets.addComment")}
      </button>
    </form>
  );
}
