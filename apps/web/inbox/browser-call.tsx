import { useEffect, useMemo, useState, useSyncExternalStore } from "react";
import { useFrames, useWorkspace } from "./workspace.tsx";
import { request } from "./client.ts";
import type { MessageKey } from "./catalog.ts";
import { useNow } from "./hooks.ts";
import { useI18n } from "./i18n.ts";
import { contactLabel, type Conversation } from "./model.ts";

import { BrowserPhone, type CallInfo } from "./browser-phone.ts";

let current: BrowserPhone | null = null;
const noSubscription = () => () => {};

/** The signed-in tab's browser phone: rings, the live call's strip, and what "invite to call" uses. */
export function BrowserCalls() {
  const { me } = useWorkspace();
  const phone = useMemo(() => new BrowserPhone(me.id), [me.id]);
  useEffect(() => {
    current = phone;
    void phone.load();
    return () => {
      if (current === phone) current = null;
      phone.dispose();
    };
  }, [phone]);
  useFrames((f) => phone.frame(f), [phone]);
  useSyncExternalStore(phone.subscribe, () => phone.version);
  const { t } = useI18n();
  const ringing = [...phone.ringing.values()].filter(() => !phone.active);
  if (!ringing.length && !phone.active && !phone.error && !phone.apiError) return null;
  return (
    <div className="toasts browser-calls" aria-live="assertive">
      {(phone.error || phone.apiError) && (
        <div className="toast" role="alert">
          <p className="error">{phone.apiError ?? t(phone.error!)}</p>
          <div className="toast-actions">
            <button type="button" onClick={() => ((phone.error = null), (phone.apiError = null), phone.load())}>
              {t("common.close")}
            </button>
          </div>
        </div>
      )}
      {phone.active ? (
        <ActiveCall phone={phone} />
      ) : (
        ringing.map((c) => <RingingCall key={c.id} phone={phone} call={c} />)
      )}
    </div>
  );
}

function useContactName(conversationId: string) {
  const { t } = useI18n();
  const [c, setC] = useState<Conversation | null>(null);
  useEffect(() => {
    request<Conversation>(`/conversations/${conversationId}`).then(setC, () => {});
  }, [conversationId]);
  return c ? contactLabel(c.contact, t("contact.anonymous")) : "";
}

function RingingCall({ phone, call }: { phone: BrowserPhone; call: CallInfo }) {
  const { t } = useI18n();
  const name = useContactName(call.conversationId);
  return (
    <div
      className="toast"
      role="alertdialog"
      aria-labelledby={`ring-${call.id}`}
      data-testid="browser-call-ringing"
      data-call-id={call.id}
    >
      <strong id={`ring-${call.id}`}>📞 {t("browserCall.incoming")}</strong>
      <p dir="auto">{name}</p>
      <div className="toast-actions">
        <button
          type="button"
          className="primary"
          onClick={() => void phone.answer(call)}
          data-testid="browser-call-answer"
          autoFocus
        >
          {t("browserCall.answer")}
        </button>
        <button type="button" onClick={() => phone.decline(call)} data-testid="browser-call-decline">
          {t("browserCall.decline")}
        </button>
      </div>
    </div>
  );
}

function ActiveCall({ phone }: { phone: BrowserPhone }) {
  const { t } = useI18n();
  const call = phone.active!.call;
  const name = useContactName(call.conversationId);
  const now = useNow(1000);
  const talk = call.answeredAt ? Math.max(0, Math.floor((now - Date.parse(call.answeredAt)) / 1000)) : null;
  return (
    <div
      className="toast"
      role="region"
      aria-label={t("browserCall.label", { name })}
      data-testid="browser-call"
      data-call-id={call.id}
      data-call-status={call.status}
      data-peer-state={phone.peerState ?? "new"}
    >
      <strong dir="auto">📞 {name}</strong>
      <p>
        {t(`call.status.${call.status}` as MessageKey)}
        {talk !== null && ` · ${Math.floor(talk / 60)}:${String(talk % 60).padStart(2, "0")}`}
      </p>
      {phone.active!.monitor?.monitors.map((m, i) => (
        <p key={i} className="hint" data-testid="browser-call-monitor" data-mode={m.mode}>
          {t(`browserCall.monitor.${m.mode}` as MessageKey, { name: m.name })}
        </p>
      ))}
      <div className="toast-actions">
        <button
          type="button"
          aria-pressed={phone.muted}
          onClick={() => phone.toggleMute()}
          data-testid="browser-call-mute"
        >
          {phone.muted ? t("browserCall.unmute") : t("browserCall.mute")}
        </button>
        <button type="button" className="danger" onClick={() => phone.hangUp()} data-testid="browser-call-hangup">
          {t("browserCall.hangUp")}
        </button>
        <a href={`#/inbox/mine/${call.conversationId}`}>{t("browserCall.open")}</a>
      </div>
    </div>
  );
}

/** "Invite to call" in a web chat conversation: rings the visitor's chat window. */
export function InviteToCall({ conversation }: { conversation: Conversation }) {
  const { t } = useI18n();
  const [busy, setBusy] = useState(false);
  const phone = current;
  useSyncExternalStore(phone?.subscribe ?? noSubscription, () => phone?.version ?? 0);
  if (conversation.channel !== "webchat" || conversation.status === "resolved") return null;
  return (
    <button
      type="button"
      title={t("browserCall.inviteHelp")}
      disabled={busy || !phone || !!phone.active}
      onClick={async () => {
        setBusy(true);
        await phone?.invite(conversation.id);
        setBusy(false);
      }}
      data-testid="invite-to-call"
    >
      📞 {t("browserCall.invite")}
    </button>
  );
}

/** Who took a call, beside its status in the timeline (any call, phone or browser). */
export function CallTakenBy({ data }: { data: Record<string, unknown> }) {
  const { t } = useI18n();
  const { users, me } = useWorkspace();
  const agentId = typeof data.agentId === "string" ? data.agentId : null;
  const agent = agentId === me.id ? me.name : users.find((u) => u.id === agentId)?.name;
  return agent ? (
    <span className="call-agent" data-testid="call-agent">
      {t("browserCall.takenBy", { name: agent })}
    </span>
  ) : null;
}
