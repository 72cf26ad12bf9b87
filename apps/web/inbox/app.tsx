import { useEffect, useMemo, useState } from "react";
import { AdminPage } from "./admin.tsx";
import { BrowserCalls } from "./browser-call.tsx";
import { ApiError, request, session } from "./client.ts";
import { I18nContext, initialLocale, makeFormatters, saveLocale, useI18n, type Locale } from "./i18n.ts";
import { InboxPage } from "./inbox.tsx";
import { InvitePage, LoginPage } from "./login.tsx";
import type { Me } from "./model.ts";
import { OfferToasts } from "./offers.tsx";
import { PhoneDevice } from "./phone-device.tsx";
import { Softphone } from "./softphone.tsx";
import { PresenceMenu } from "./presence.tsx";
import { href, useRoute } from "./route.ts";
import { WallboardPage } from "./wallboard.tsx";
import { ReportsPage } from "./reports.tsx";
import { ForecastPage } from "./forecast.tsx";
import { KnowledgePage } from "./knowledge.tsx";
import { can } from "../../../platform/permission.ts";
import { SlaAlerts } from "./sla-alerts.tsx";
import { QaAlerts } from "./qa-alerts.tsx";
import { NotificationBell } from "./notifications.tsx";
import { TicketsPage } from "./tickets.tsx";
import { useWorkspace, WorkspaceProvider } from "./workspace.tsx";

export function App() {
  const [locale, setLocaleState] = useState<Locale>(initialLocale);
  const i18n = useMemo(
    () => ({ ...makeFormatters(locale), locale, setLocale: (l: Locale) => (saveLocale(l), setLocaleState(l)) }),
    [locale],
  );
  useEffect(() => saveLocale(locale), [locale]);
  const [me, setMe] = useState<Me | null>(null);
  const [checking, setChecking] = useState(Boolean(session.token));
  const [expired, setExpired] = useState(false);
  const route = useRoute();

  useEffect(() => session.onExpired(() => (setMe(null), setExpired(true))), []);
  useEffect(() => {
    if (!session.token) return;
    request<Me>("/me")
      .then(setMe)
      .catch(() => session.clear())
      .finally(() => setChecking(false));
  }, []);

  const signedIn = async (token: string) => {
    session.set(token);
    setExpired(false);
    setMe(await request<Me>("/me"));
    if (route.page === "invite") location.hash = href({ page: "inbox", view: "mine", conversationId: null });
  };

  let content;
  if (checking) content = <div className="splash" aria-busy="true" />;
  else if (route.page === "invite" && !me) content = <InvitePage token={route.token} onSignedIn={signedIn} />;
  else if (!me) content = <LoginPage expired={expired} onSignedIn={signedIn} />;
  else
    content = (
      <WorkspaceProvider key={me.id} me={me}>
        <Shell onSignOut={() => setMe(null)} />
      </WorkspaceProvider>
    );
  return <I18nContext.Provider value={i18n}>{content}</I18nContext.Provider>;
}

function Shell({ onSignOut }: { onSignOut(): void }) {
  const { t, locale, setLocale } = useI18n();
  const { me } = useWorkspace();
  const route = useRoute();
  const supervises = me.role === "admin" || me.role === "supervisor";
  const signOut = async () => {
    await request("/auth/logout", { method: "POST" }).catch((e) =>
      e instanceof ApiError ? undefined : Promise.reject(e),
    );
    session.clear();
    onSignOut();
  };
  const nav = [
    {
      page: "inbox",
      label: t("nav.inbox"),
      to: href({ page: "inbox", view: "mine", conversationId: null }),
      show: me.role !== "knowledge_editor",
    },
    {
      page: "tickets",
      label: t("nav.tickets"),
      to: href({ page: "tickets", view: "mine", ticketId: null }),
      show: can(me, "tickets.read"),
    },
    { page: "wallboard", label: t("nav.wallboard"), to: href({ page: "wallboard" }), show: supervises },
    { page: "reports", label: t("nav.reports"), to: href({ page: "reports" }), show: can(me, "reports.read") },
    {
      page: "forecast",
      label: t("nav.forecast"),
      to: href({ page: "forecast", tab: "forecast" }),
      show: can(me, "reports.read"),
    },
    {
      page: "admin",
      label: t("nav.admin"),
      to: href({ page: "admin", tab: me.role === "admin" ? "inboxes" : "canned" }),
      show: supervises,
    },
    { page: "knowledge", label: t("nav.knowledge"), to: href({ page: "knowledge", articleId: null }), show: true },
  ];
  return (
    <div className="app" data-page={route.page}>
      <header className="topbar">
        <a className="brand" href={nav[0]!.to}>
          Switchboard
        </a>
        <nav aria-label={t("nav.label")}>
          {nav
            .filter((n) => n.show)
            .map((n) => (
              <a key={n.page} href={n.to} aria-current={route.page === n.page ? "page" : undefined}>
                {n.label}
              </a>
            ))}
        </nav>
        <div className="topbar-end">
          {me.role !== "knowledge_editor" && <PhoneDevice />}
          {me.role !== "knowledge_editor" && <PresenceMenu />}
          {can(me, "tickets.read") && <NotificationBell />}
          <label className="visually-hidden" htmlFor="locale">
            {t("nav.language")}
          </label>
          <select id="locale" data-testid="locale" value={locale} onChange={(e) => setLocale(e.target.value as Locale)}>
            <option value="en">English</option>
            <option value="zh-CN">中文</option>
          </select>
          <span className="me" title={me.email}>
            {me.name} · {t(`role.${me.role}`)}
          </span>
          <button type="button" onClick={signOut} data-testid="sign-out">
            {t("nav.signOut")}
          </button>
        </div>
      </header>
      <main>
        {route.page === "wallboard" && supervises ? (
          <WallboardPage />
        ) : route.page === "reports" && can(me, "reports.read") ? (
          <ReportsPage />
        ) : route.page === "forecast" && can(me, "reports.read") ? (
          <ForecastPage tab={route.tab} />
        ) : route.page === "tickets" && can(me, "tickets.read") ? (
          <TicketsPage view={route.view} ticketId={route.ticketId} />
        ) : route.page === "admin" && supervises ? (
          <AdminPage tab={route.tab} />
        ) : route.page === "knowledge" || me.role === "knowledge_editor" ? (
          <KnowledgePage articleId={route.page === "knowledge" ? route.articleId : null} />
        ) : (
          <InboxPage
            view={route.page === "inbox" ? route.view : "mine"}
            conversationId={route.page === "inbox" ? route.conversationId : null}
          />
        )}
      </main>
      <OfferToasts />
      {can(me, "sla.manage") && <SlaAlerts />}
      {can(me, "qa.review") && <QaAlerts />}
      {me.role !== "knowledge_editor" && <BrowserCalls />}
      {me.role !== "knowledge_editor" && <Softphone />}
    </div>
  );
}
