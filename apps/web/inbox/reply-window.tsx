import { useCallback, useEffect, useMemo, useState } from "react";
import { useFrames, useWorkspace } from "./workspace.tsx";
import { ApiError, request } from "./client.ts";
import { useNow } from "./hooks.ts";
import { useI18n } from "./i18n.ts";
import type { Conversation, ReplyOption, ReplyWindow } from "./model.ts";
import { NewEmail } from "./new-email.tsx";

const HOUR = 3_600_000;
/** Below this much time left the composer says when the window closes; earlier it would only be noise. */
const WARN_BEFORE_MS = 6 * HOUR;

/** Time left in a window as the composer says it: "5 h", "12 min". */
export function timeLeft(t: ReturnType<typeof useI18n>["t"], ms: number) {
  return ms >= HOUR
    ? t("window.hours", { n: Math.round(ms / HOUR) })
    : t("window.minutes", { n: Math.max(1, Math.ceil(ms / 60_000)) });
}

/**
 * The conversation's reply window (WeChat's 48 hours, WhatsApp's 24, since the customer's last message)
 * and its "reply via" options. They are read again when the customer writes (which reopens a window),
 * when the contact changes (an opt-out) and after the server refused a reply; between those, the clock
 * closes a window at `closesAt` without asking the server.
 */
export function useReplyWindow(conversation: Conversation) {
  const id = conversation.id;
  const contactId = conversation.contact.id;
  const [current, setCurrent] = useState<ReplyWindow | null>(conversation.replyWindow ?? null);
  const [options, setOptions] = useState<ReplyOption[]>(conversation.replyOptions ?? []);
  // A conversation from an action's answer or a frame is the bare view, without these: keep what was read.
  useEffect(() => {
    if (conversation.replyWindow !== undefined) setCurrent(conversation.replyWindow);
  }, [conversation.replyWindow]);
  useEffect(() => {
    if (conversation.replyOptions) setOptions(conversation.replyOptions);
  }, [conversation.replyOptions]);
  const refresh = useCallback(
    () =>
      void request<Conversation>(`/conversations/${id}`).then(
        (c) => (setCurrent(c.replyWindow ?? null), setOptions(c.replyOptions ?? [])),
        () => {},
      ),
    [id],
  );
  useFrames(
    (f) => {
      if (f.conversationId === id && f.type === "item.created" && f.item?.direction === "in") refresh();
      else if (f.type === "contact.updated" && f.contact?.id === contactId) refresh();
    },
    [id, contactId, refresh],
  );
  const now = useNow(30_000);
  const closesAt = current?.closesAt ? Date.parse(current.closesAt) : null;
  const closed = Boolean(current && (!current.open || (closesAt !== null && closesAt <= now)));
  const live = useMemo(
    () =>
      options.map((o) =>
        o.state === "open" && o.closesAt && Date.parse(o.closesAt) <= now
          ? { ...o, state: "window_closed" as const }
          : o,
      ),
    [options, now],
  );
  return {
    replyWindow: current,
    closed,
    leftMs: closesAt === null ? null : closesAt - now,
    refresh,
    options: live,
    now,
  };
}

/**
 * While open, a quiet hint in the last hours; once closed, why the reply cannot go and the other ways to
 * reach the contact: a new email, a callback through a phone line, or SMS when the server offers it.
 */
export function ReplyWindowNotice({
  conversationId,
  contactId,
  state,
  onUseInbox,
}: {
  conversationId: string;
  contactId: string;
  state: ReturnType<typeof useReplyWindow>;
  onUseInbox(inboxId: string): void;
}) {
  const { t } = useI18n();
  const { inboxes } = useWorkspace();
  const [emailTo, setEmailTo] = useState<string | null>(null);
  const [calling, setCalling] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const { replyWindow, closed, leftMs } = state;
  if (!replyWindow) return null;
  const channel = t(replyWindow.code === "whatsapp_24h" ? "channel.whatsapp" : "channel.wechat");
  if (!closed) {
    if (leftMs === null || leftMs > WARN_BEFORE_MS) return null;
    const d = timeLeft(t, leftMs);
    return (
      <p className="hint reply-window-hint" data-testid="reply-window-hint">
        ⏳ {t("window.closesIn", { channel, d })}
      </p>
    );
  }
  // A closed WhatsApp window is the template picker's to explain (reply-via.tsx): a template still goes.
  if (replyWindow.code !== "wechat_48h") return null;
  const emailInbox = inboxes.some((i) => i.channel === "email");
  const phoneLine = inboxes.some((i) => i.channel === "voice");
  const smsInbox = inboxes.find((i) => i.channel === "sms");
  const offered = replyWindow.alternatives.filter((a) =>
    a.action === "email" ? emailInbox : a.action === "callback" ? phoneLine : Boolean(smsInbox),
  );
  const callBack = async (number: string) => {
    setError(null);
    try {
      await request(`/conversations/${conversationId}/calls`, { body: { number } });
      setCalling(number);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : t("error.generic"));
    }
  };
  return (
    <div className="notice reply-window-closed" role="status" data-testid="reply-window-closed">
      <p>
        <strong>{t("window.closed")}</strong>
      </p>
      <p>{offered.length ? t("window.closedHelp") : t("window.noAlternative")}</p>
      {offered.length > 0 && (
        <div className="row-form" data-testid="reply-alternatives">
          {offered.map((a) => (
            <button
              key={`${a.action}:${a.value}`}
              type="button"
              data-action={a.action}
              onClick={() =>
                a.action === "email"
                  ? setEmailTo((v) => (v === a.value ? null : a.value))
                  : a.action === "callback"
                    ? void callBack(a.value)
                    : onUseInbox(smsInbox!.id)
              }
            >
              {t(`window.${a.action}`, { value: a.value })}
            </button>
          ))}
        </div>
      )}
      {emailTo && <NewEmail key={emailTo} contactId={contactId} addresses={[emailTo]} defaultOpen />}
      {calling && <p data-testid="reply-window-calling">{t("window.calling", { value: calling })}</p>}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
