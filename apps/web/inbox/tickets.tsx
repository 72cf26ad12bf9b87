import { useCallback, useEffect, useState } from "react";
import type { MessageKey } from "./catalog.ts";
import { ApiError, request } from "./client.ts";
import { useI18n } from "./i18n.ts";
import { navigate } from "./route.ts";
import { SlaClock } from "./sla-clock.tsx";
import { ticketNumber, TicketPriorityBadge, TicketStatusBadge, useTicketSetup } from "./ticket-badges.tsx";
import { TICKET_PRIORITIES, TICKET_STATUSES, typeLabel, type Ticket } from "./ticket-model.ts";
import { TicketPane } from "./ticket-view.tsx";
import { useFrames, useWorkspace } from "./workspace.tsx";

export const TICKET_VIEWS = ["mine", "unassigned", "open", "overdue", "all"] as const;

type Filters = { status?: string; priority?: string; teamId?: string; assignee?: string; type?: string; q?: string };
type Page = { items: Ticket[]; nextCursor: string | null };

/** The query a view and its filters send to GET /tickets. */
export function ticketQuery(view: string, f: Filters) {
  const p = new URLSearchParams({ view });
  for (const [k, v] of Object.entries(f)) if (v) p.set(k, v);
  p.set("limit", "30");
  return p;
}

const OPEN = ["new", "open", "pending_customer", "pending_third_party"];

/**
 * The server's view rule on the client, for tickets that change while the list is open; a search and the
 * overdue view only update rows the server already matched.
 */
function belongs(x: Ticket, view: string, f: Filters, meId: string) {
  if (view === "mine" && x.assigneeId !== meId) return false;
  if (view === "unassigned" && x.assigneeId) return false;
  // Every view but "all" leaves solved and closed tickets out, whatever the status filter says.
  if (view !== "all" && !OPEN.includes(x.status)) return false;
  if (f.status && !f.status.split(",").includes(x.status)) return false;
  if (f.priority && x.priority !== f.priority) return false;
  if (f.teamId && x.teamId !== f.teamId) return false;
  if (f.type && x.type !== f.type) return false;
  if (f.assignee === "me" && x.assigneeId !== meId) return false;
  if (f.assignee === "none" && x.assigneeId) return false;
  if (f.assignee && f.assignee !== "me" && f.assignee !== "none" && x.assigneeId !== f.assignee) return false;
  return true;
}

const byUpdate = (a: Ticket, b: Ticket) => b.updatedAt.localeCompare(a.updatedAt) || b.id.localeCompare(a.id);

/** Tickets: views and filters on the left, the open ticket on the right. */
export function TicketsPage({ view, ticketId }: { view: string; ticketId: string | null }) {
  const { t, locale } = useI18n();
  const { me, teams, users } = useWorkspace();
  const { types } = useTicketSetup();
  const [filters, setFilters] = useState<Filters>({});
  const [search, setSearch] = useState("");
  const [items, setItems] = useState<Ticket[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    setLoading(true);
    setError(null);
    try {
      const page = await request<Page>(`/tickets?${ticketQuery(view, filters)}`);
      setItems(page.items);
      setCursor(page.nextCursor);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : t("error.generic"));
    } finally {
      setLoading(false);
    }
  }, [view, filters, t]);
  useEffect(() => void load(), [load]);

  useEffect(() => {
    const timer = setTimeout(() => {
      const q = search.trim() || undefined;
      setFilters((f) => (f.q === q ? f : { ...f, q }));
    }, 250);
    return () => clearTimeout(timer);
  }, [search]);

  const more = async () => {
    if (!cursor) return;
    const page = await request<Page>(`/tickets?${ticketQuery(view, filters)}&cursor=${encodeURIComponent(cursor)}`);
    setItems((old) => [...old, ...page.items.filter((x) => !old.some((o) => o.id === x.id))]);
    setCursor(page.nextCursor);
  };

  useFrames(
    (f) => {
      if (f.type === "resync") void load();
      if ((f.type !== "ticket.created" && f.type !== "ticket.updated") || !f.ticket) return;
      const x = f.ticket as Ticket;
      setItems((old) => {
        const prev = old.find((o) => o.id === x.id);
        const rest = old.filter((o) => o.id !== x.id);
        if (!belongs(x, view, filters, me.id) || (!prev && (filters.q || view === "overdue"))) return rest;
        return [...rest, { ...prev, ...x, sla: x.sla ?? prev?.sla ?? null }].sort(byUpdate);
      });
    },
    [view, filters, me.id, load],
  );

  const setFilter = (k: keyof Filters, v: string) => setFilters((f) => ({ ...f, [k]: v || undefined }));
  const nameOf = (id: string | null) => users.find((u) => u.id === id)?.name ?? "";

  return (
    <div className="inbox tickets" data-open={ticketId ? "true" : "false"}>
      <section className="list-pane" aria-label={t("tickets.list")}>
        <nav className="views" aria-label={t("tickets.views")}>
          {TICKET_VIEWS.map((v) => (
            <a
              key={v}
              href={`#/tickets/${v}`}
              aria-current={v === view ? "page" : undefined}
              data-testid={`ticket-view-${v}`}
            >
              {t(`tickets.view.${v}` as MessageKey)}
            </a>
          ))}
        </nav>
        <div className="filters">
          <input
            type="search"
            placeholder={t("tickets.search")}
            aria-label={t("tickets.search")}
            value={search}
            onChange={(e) => setSearch(e.target.value)}
            data-testid="ticket-search"
          />
          <details>
            <summary>{t("list.filters")}</summary>
            <Choice
              label={t("tickets.status")}
              testId="filter-status"
              value={filters.status}
              onChange={(v) => setFilter("status", v)}
              options={TICKET_STATUSES.map((s) => [s, t(`tickets.status.${s}` as MessageKey)])}
            />
            <Choice
              label={t("tickets.priority")}
              testId="filter-priority"
              value={filters.priority}
              onChange={(v) => setFilter("priority", v)}
              options={TICKET_PRIORITIES.map((p) => [p, t(`tickets.priority.${p}` as MessageKey)])}
            />
            <Choice
              label={t("filter.team")}
              testId="filter-team"
              value={filters.teamId}
              onChange={(v) => setFilter("teamId", v)}
              options={teams.map((x) => [x.id, x.name])}
            />
            <Choice
              label={t("tickets.assignee")}
              testId="filter-assignee"
              value={filters.assignee}
              onChange={(v) => setFilter("assignee", v)}
              options={[
                ["me", t("tickets.assignee.me")],
                ["none", t("tickets.unassigned")],
                ...users.filter((u) => u.role !== "knowledge_editor").map((u): [string, string] => [u.id, u.name]),
              ]}
            />
            <Choice
              label={t("tickets.type")}
              testId="filter-type"
              value={filters.type}
              onChange={(v) => setFilter("type", v)}
              options={types.map((x) => [x.name, typeLabel(types, x.name, locale)])}
            />
          </details>
        </div>
        <ul className="conversation-list ticket-list" aria-busy={loading} data-testid="ticket-list">
          {items.map((x) => (
            <li
              key={x.id}
              className="conversation-row ticket-row"
              data-testid="ticket-row"
              data-ticket-id={x.id}
              aria-current={x.id === ticketId || String(x.number) === ticketId ? "true" : undefined}
            >
              <button type="button" onClick={() => navigate({ page: "tickets", view, ticketId: x.id })}>
                <span className="row-top">
                  <strong className="ticket-number" data-testid="ticket-number">
                    {ticketNumber(x.number)}
                  </strong>
                  <span className="contact-name" dir="auto">
                    {x.title}
                  </span>
                </span>
                <span className="row-meta">
                  <TicketStatusBadge status={x.status} /> <TicketPriorityBadge priority={x.priority} />{" "}
                  {x.type && <span className="ticket-type">{typeLabel(types, x.type, locale)}</span>}{" "}
                  {x.assigneeId && <span className="ticket-assignee">{nameOf(x.assigneeId)}</span>}{" "}
                  {!["solved", "closed"].includes(x.status) && <SlaClock sla={x.sla} dueAt={x.sla ? null : x.dueAt} />}
                </span>
              </button>
            </li>
          ))}
          {error && (
            <li className="error" role="alert">
              {error}
            </li>
          )}
          {!loading && !error && items.length === 0 && <li className="empty">{t("list.empty")}</li>}
          {cursor && (
            <li className="older">
              <button type="button" onClick={more} data-testid="ticket-more">
                {t("tickets.more")}
              </button>
            </li>
          )}
        </ul>
      </section>
      {ticketId ? (
        <TicketPane key={ticketId} id={ticketId} view={view} />
      ) : (
        <section className="conversation-pane placeholder">
          <p>{t("tickets.pick")}</p>
        </section>
      )}
    </div>
  );
}

function Choice({
  label,
  value,
  onChange,
  options,
  testId,
}: {
  label: string;
  value?: string;
  onChange(v: string): void;
  options: [string, string][];
  testId: string;
}) {
  const { t } = useI18n();
  return (
    <label className="field inline">
      <span>{label}</span>
      <select value={value ?? ""} onChange={(e) => onChange(e.target.value)} data-testid={testId}>
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
