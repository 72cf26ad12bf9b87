import { SlaClock } from "./sla-clock.tsx";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useFrames, useWorkspace } from "./workspace.tsx";
import { ChannelBadge } from "./channel-badge.tsx";
import { ApiError, request } from "./client.ts";
import { ConversationPane } from "./conversation.tsx";
import { isTyping, useNow } from "./hooks.ts";
import { clock, useI18n } from "./i18n.ts";
import type { MessageKey } from "./catalog.ts";
import { contactLabel, type Channel, type Conversation, type Item, type Me } from "./model.ts";
import { navigate } from "./route.ts";
import { previewText } from "./masked-text.tsx";

export const VIEWS = ["mine", "unassigned", "all", "snoozed", "resolved"] as const;
const CHANNELS: Channel[] = ["webchat", "email", "voice", "wechat", "slack", "sms", "whatsapp"];

type Filters = { queueId?: string; teamId?: string; inboxId?: string; channel?: string; label?: string; q?: string };

/** The query a view and its filters send to GET /conversations. */
export function listQuery(view: string, f: Filters) {
  const p = new URLSearchParams();
  if (view === "mine") p.set("assignee", "me");
  if (view === "unassigned") p.set("assignee", "none");
  p.set("status", view === "snoozed" ? "snoozed" : view === "resolved" ? "resolved" : "open,pending");
  for (const [k, v] of Object.entries(f)) if (v) p.set(k, v);
  p.set("limit", "50");
  return p;
}

/** The same rule on the client, for conversations that change while the list is open. */
function belongs(c: Conversation, view: string, f: Filters, me: Me) {
  const statuses = view === "snoozed" ? ["snoozed"] : view === "resolved" ? ["resolved"] : ["open", "pending"];
  if (!statuses.includes(c.status)) return false;
  if (view === "mine" && c.assigneeId !== me.id) return false;
  if (view === "unassigned" && c.assigneeId) return false;
  if (f.queueId && c.queueId !== f.queueId) return false;
  if (f.teamId && c.teamId !== f.teamId) return false;
  if (f.inboxId && c.inboxId !== f.inboxId) return false;
  if (f.channel && c.channel !== f.channel) return false;
  if (f.label && !c.labels.includes(f.label)) return false;
  return true;
}

function byActivity(a: Conversation, b: Conversation) {
  return b.lastActivityAt.localeCompare(a.lastActivityAt) || b.id.localeCompare(a.id);
}

export function InboxPage({ view, conversationId }: { view: string; conversationId: string | null }) {
  const { t } = useI18n();
  const { me, teams, queues, inboxes } = useWorkspace();
  const [filters, setFilters] = useState<Filters>({});
  const [search, setSearch] = useState("");
  const [items, setItems] = useState<Conversation[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState(0);
  const listRef = useRef<HTMLUListElement>(null);
  const openRef = useRef(conversationId);
  openRef.current = conversationId;

  const load = useCallback(async () => {
    setLoading(true);
    setError(null);
    try {
      const page = await request<{ items: Conversation[]; nextCursor: string | null }>(
        `/conversations?${listQuery(view, filters)}`,
      );
      setItems(page.items);
      setCursor(page.nextCursor);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : t("error.generic"));
    } finally {
      setLoading(false);
    }
  }, [view, filters, t]);
  useEffect(() => void load(), [load]);

  // Typing in the search box waits for a pause before asking the server.
  useEffect(() => {
    const timer = setTimeout(
      () => setFilters((f) => (f.q === (search.trim() || undefined) ? f : { ...f, q: search.trim() || undefined })),
      250,
    );
    return () => clearTimeout(timer);
  }, [search]);

  const more = async () => {
    if (!cursor) return;
    const page = await request<{ items: Conversation[]; nextCursor: string | null }>(
      `/conversations?${listQuery(view, filters)}&cursor=${encodeURIComponent(cursor)}`,
    );
    setItems((old) => [...old, ...page.items.filter((c) => !old.some((o) => o.id === c.id))]);
    setCursor(page.nextCursor);
  };

  const upsert = useCallback(
    (c: Conversation) =>
      setItems((old) => {
        const prev = old.find((o) => o.id === c.id);
        const rest = old.filter((o) => o.id !== c.id);
        // A search shows what the server matched; live changes only update rows already there.
        if (!belongs(c, view, filters, me) || (filters.q && !prev)) return rest;
        return [...rest, { ...prev, ...c, contact: { ...prev?.contact, ...c.contact } }].sort(byActivity);
      }),
    [view, filters, me],
  );

  useFrames(
    (f) => {
      if (f.type === "resync") void load();
      if ((f.type === "conversation.created" || f.type === "conversation.updated") && f.conversation)
        upsert(f.conversation as Conversation);
      if (f.type === "contact.updated" && f.contact)
        setItems((old) =>
          old.map((c) =>
            c.contact.id === f.contact.id ? { ...c, contact: { ...c.contact, name: f.contact.name } } : c,
          ),
        );
      if (f.type === "item.created" && f.conversationId) {
        const item = f.item as Item;
        if (item.type !== "message" && item.type !== "call") return;
        setItems((old) => {
          const row = old.find((c) => c.id === f.conversationId);
          if (!row) {
            // Not on this page yet (an older conversation woke up): fetch it and let upsert decide.
            void request<Conversation>(`/conversations/${f.conversationId}`).then(upsert, () => {});
            return old;
          }
          const inbound = item.direction === "in";
          const updated: Conversation = {
            ...row,
            lastMessage: { text: item.text ?? (item.attachments.length ? "📎" : row.lastMessage.text) },
            lastActivityAt: item.createdAt,
            unread: inbound && openRef.current !== row.id ? (row.unread ?? 0) + 1 : row.unread,
            waitingSince: inbound ? (row.waitingSince ?? item.createdAt) : !item.private ? null : row.waitingSince,
          };
          return [updated, ...old.filter((c) => c.id !== row.id)].sort(byActivity);
        });
      }
    },
    [upsert, load],
  );

  // Opening a conversation clears its badge here; the pane tells the server.
  useEffect(() => {
    if (conversationId) setItems((old) => old.map((c) => (c.id === conversationId ? { ...c, unread: 0 } : c)));
  }, [conversationId]);

  const open = (id: string) => navigate({ page: "inbox", view, conversationId: id });
  const onKey = useCallback(
    (e: KeyboardEvent) => {
      if (isTyping(e.target) || e.metaKey || e.ctrlKey || e.altKey) return;
      if (e.key === "j" || e.key === "k") {
        e.preventDefault();
        setSelected((n) => Math.max(0, Math.min(items.length - 1, n + (e.key === "j" ? 1 : -1))));
      } else if (e.key === "Enter" && items[selected] && document.activeElement === document.body) {
        open(items[selected]!.id);
      } else if (e.key === "/") {
        e.preventDefault();
        document.getElementById("conversation-search")?.focus();
      }
    },
    [items, selected, view],
  );
  useEffect(() => {
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, [onKey]);
  useEffect(() => {
    listRef.current?.querySelector<HTMLElement>(`[data-index="${selected}"]`)?.scrollIntoView({ block: "nearest" });
  }, [selected]);

  const labels = useMemo(() => [...new Set(items.flatMap((c) => c.labels))].sort(), [items]);
  const setFilter = (k: keyof Filters, v: string) => setFilters((f) => ({ ...f, [k]: v || undefined }));

  return (
    <div className="inbox" data-open={conversationId ? "true" : "false"}>
      <section className="list-pane" aria-label={t("list.label")}>
        <nav className="views" aria-label={t("list.views")}>
          {VIEWS.map((v) => (
            <a key={v} href={`#/inbox/${v}`} aria-current={v === view ? "page" : undefined} data-testid={`view-${v}`}>
              {t(`view.${v}` as MessageKey)}
            </a>
          ))}
        </nav>
        <div className="filters">
          <input
            id="conversation-search"
            type="search"
            placeholder={t("list.search")}
            aria-label={t("list.search")}
            value={search}
            onChange={(e) => setSearch(e.target.value)}
            data-testid="conversation-search"
          />
          <details>
            <summary>{t("list.filters")}</summary>
            <FilterSelect
              label={t("filter.queue")}
              value={filters.queueId}
              onChange={(v) => setFilter("queueId", v)}
              options={queues.map((q) => [q.id, q.name])}
            />
            <FilterSelect
              label={t("filter.team")}
              value={filters.teamId}
              onChange={(v) => setFilter("teamId", v)}
              options={teams.map((x) => [x.id, x.name])}
            />
            <FilterSelect
              label={t("filter.inbox")}
              value={filters.inboxId}
              onChange={(v) => setFilter("inboxId", v)}
              options={inboxes.map((x) => [x.id, x.name])}
            />
            <FilterSelect
              label={t("filter.channel")}
              value={filters.channel}
              onChange={(v) => setFilter("channel", v)}
              options={CHANNELS.map((c) => [c, t(`channel.${c}` as MessageKey)])}
            />
            <FilterSelect
              label={t("filter.label")}
              value={filters.label}
              onChange={(v) => setFilter("label", v)}
              options={labels.map((l) => [l, l])}
            />
          </details>
        </div>
        <ul
          className="conversation-list"
          ref={listRef}
          aria-busy={loading}
          data-testid="conversation-list"
          onScroll={(e) => {
            const el = e.currentTarget;
            if (el.scrollTop + el.clientHeight > el.scrollHeight - 80) void more();
          }}
        >
          {items.map((c, i) => (
            <ConversationRow
              key={c.id}
              c={c}
              index={i}
              active={c.id === conversationId}
              selected={i === selected}
              onOpen={() => (setSelected(i), open(c.id))}
            />
          ))}
          {error && (
            <li className="error" role="alert">
              {error}
            </li>
          )}
          {!loading && !error && items.length === 0 && <li className="empty">{t("list.empty")}</li>}
        </ul>
      </section>
      {conversationId ? (
        <ConversationPane key={conversationId} id={conversationId} view={view} />
      ) : (
        <section className="conversation-pane placeholder">
          <p>{t("list.pick")}</p>
          <p className="hint">{t("list.keys")}</p>
        </section>
      )}
    </div>
  );
}

function FilterSelect({
  label,
  value,
  onChange,
  options,
}: {
  label: string;
  value?: string;
  onChange(v: string): void;
  options: [string, string][];
}) {
  const { t } = useI18n();
  return (
    <label className="field inline">
      <span>{label}</span>
      <select value={value ?? ""} onChange={(e) => onChange(e.target.value)}>
        <option value="">{t("filter.any")}</option>
        {options.map(([v, text]) => (
          <option key={v} value={v}>
            {text}
          </option>
        ))}
      </select>
    </label>
  );
}

function ConversationRow({
  c,
  index,
  active,
  selected,
  onOpen,
}: {
  c: Conversation;
  index: number;
  active: boolean;
  selected: boolean;
  onOpen(): void;
}) {
  const { t, ago } = useI18n();
  const now = useNow(1000);
  const waitingS = c.waitingSince ? (now - new Date(c.waitingSince).getTime()) / 1000 : null;
  const slaS = c.slaDueAt ? (new Date(c.slaDueAt).getTime() - now) / 1000 : null;
  return (
    <li
      className="conversation-row"
      data-index={index}
      data-conversation-id={c.id}
      data-testid="conversation-row"
      aria-current={active ? "true" : undefined}
      data-selected={selected ? "true" : undefined}
    >
      <button type="button" onClick={onOpen}>
        <span className="row-top">
          <ChannelBadge channel={c.channel} inboxId={c.inboxId} />
          <span className="contact-name" dir="auto">
            {contactLabel(c.contact, t("contact.anonymous"))}
          </span>
          <time dateTime={c.lastActivityAt}>{ago(c.lastActivityAt, now)}</time>
        </span>
        <span className="row-bottom">
          <span className="last-message" dir="auto">
            {previewText(c.lastMessage.text)}
          </span>
          {c.unread ? (
            <span className="unread" data-testid="unread" aria-label={t("list.unread", { n: c.unread })}>
              {c.unread}
            </span>
          ) : null}
        </span>
        {(waitingS !== null || c.status !== "open" || c.sla) && (
          <span className="row-meta">
            {c.status !== "open" && (
              <span className={`status status-${c.status}`}>{t(`status.${c.status}` as MessageKey)}</span>
            )}
            {waitingS !== null && (
              <span className="waiting" title={t("list.waiting")}>
                ⏱ {clock(waitingS)}
              </span>
            )}
            {c.sla ? (
              <SlaClock sla={c.sla} dueAt={c.slaDueAt} />
            ) : (
              slaS !== null && (
                <span
                  className={`sla ${slaS < 0 ? "breached" : slaS < 60 ? "due" : ""}`}
                  title={t("list.sla")}
                  data-testid="sla"
                >
                  {slaS < 0 ? t("list.slaOver", { t: clock(-slaS) }) : t("list.slaLeft", { t: clock(slaS) })}
                </span>
              )
            )}
          </span>
        )}
      </button>
    </li>
  );
}
