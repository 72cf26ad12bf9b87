import { useCallback, useEffect, useRef, useState } from "react";
import { request } from "./client.ts";
import { useI18n } from "./i18n.ts";
import { navigate } from "./route.ts";
import type { Notification } from "./ticket-model.ts";
import { useFrames } from "./workspace.tsx";

/** The bell in the top bar: what was addressed to me (mentions, tickets assigned to me), live. */
export function NotificationBell() {
  const { t, ago } = useI18n();
  const [items, setItems] = useState<Notification[]>([]);
  const [unread, setUnread] = useState(0);
  const [open, setOpen] = useState(false);
  const seen = useRef(new Set<string>());
  const root = useRef<HTMLDivElement>(null);
  // The panel closes on Escape or a click anywhere else, like a menu.
  useEffect(() => {
    if (!open) return;
    const away = (e: MouseEvent) => !root.current?.contains(e.target as Node) && setOpen(false);
    const escape = (e: KeyboardEvent) => e.key === "Escape" && setOpen(false);
    addEventListener("mousedown", away);
    addEventListener("keydown", escape);
    return () => (removeEventListener("mousedown", away), removeEventListener("keydown", escape));
  }, [open]);
  const load = useCallback(
    () =>
      request<{ items: Notification[]; unread: number }>("/notifications").then(
        (r) => {
          for (const n of r.items) seen.current.add(n.id);
          setItems(r.items);
          setUnread(r.unread);
        },
        () => {},
      ),
    [],
  );
  useEffect(() => void load(), [load]);
  useFrames(
    (f) => {
      if (f.type === "resync") void load();
      if (f.type !== "notification.created" || !f.notification) return;
      const n = f.notification as Notification;
      // The bus may repeat an event: one notification counts once.
      if (seen.current.has(n.id)) return;
      seen.current.add(n.id);
      setItems((old) => [n, ...old.filter((o) => o.id !== n.id)]);
      if (!n.readAt) setUnread((u) => u + 1);
    },
    [load],
  );

  const markRead = async (ids?: string[]) => {
    await request("/notifications/read", { body: ids ? { ids } : {} }).catch(() => {});
    const now = new Date().toISOString();
    setItems((old) => old.map((n) => (!ids || ids.includes(n.id) ? { ...n, readAt: n.readAt ?? now } : n)));
    setUnread((u) => (ids ? Math.max(0, u - items.filter((n) => ids.includes(n.id) && !n.readAt).length) : 0));
  };
  const follow = (n: Notification) => {
    setOpen(false);
    if (!n.readAt) void markRead([n.id]);
    if (n.ticketId) navigate({ page: "tickets", view: "all", ticketId: n.ticketId });
    else if (n.conversationId) navigate({ page: "inbox", view: "all", conversationId: n.conversationId });
  };

  return (
    <div className="bell" ref={root}>
      <button
        type="button"
        aria-expanded={open}
        aria-label={t("notifications.label", { n: unread })}
        onClick={() => setOpen((o) => !o)}
        data-testid="bell"
      >
        🔔
        {unread > 0 && (
          <span className="unread" data-testid="bell-unread">
            {unread}
          </span>
        )}
      </button>
      {open && (
        <div className="bell-panel" role="dialog" aria-label={t("notifications.title")} data-testid="bell-panel">
          <header>
            <strong>{t("notifications.title")}</strong>
            <button type="button" onClick={() => markRead()} disabled={!unread} data-testid="bell-read-all">
              {t("notifications.readAll")}
            </button>
          </header>
          <ul>
            {items.map((n) => (
              <li key={n.id} data-unread={n.readAt ? undefined : "true"} data-testid="notification">
                <button type="button" onClick={() => follow(n)}>
                  <span dir="auto">{n.text}</span>
                  <small>{ago(n.createdAt)}</small>
                </button>
              </li>
            ))}
            {!items.length && <li className="empty">{t("notifications.none")}</li>}
          </ul>
        </div>
      )}
    </div>
  );
}
