import { useCallback, useEffect, useState } from "react";
import { useFrames, useWorkspace } from "./workspace.tsx";
import { ApiError, request } from "./client.ts";
import { useNow } from "./hooks.ts";
import { useI18n } from "./i18n.ts";
import type { MessageKey } from "./catalog.ts";
import { contactLabel, type Conversation, type Offer } from "./model.ts";
import { navigate } from "./route.ts";
import { previewText } from "./masked-text.tsx";

/** Work offered to me pops up with accept / reject and the seconds left before it goes to someone else. */
export function OfferToasts() {
  const { me } = useWorkspace();
  const [offers, setOffers] = useState<Offer[]>([]);
  const refresh = useCallback(
    () =>
      request<{ items: Offer[] }>("/me/offers").then(
        (r) => setOffers(r.items),
        () => {},
      ),
    [],
  );
  useEffect(() => void refresh(), [refresh]);
  useFrames(
    (f) => {
      if (f.type === "offer.created" && f.offer?.agentId === me.id)
        setOffers((old) => [...old.filter((o) => o.workItemId !== f.offer.workItemId), f.offer as Offer]);
      // Someone else took it, or it was withdrawn: ask the server what is still mine to answer.
      if (f.type === "conversation.updated" && offers.some((o) => o.conversationId === f.conversationId))
        void refresh();
      if (f.type === "resync") void refresh();
    },
    [me.id, offers, refresh],
  );
  const now = useNow(500);
  const live = offers.filter((o) => !o.expiresAt || new Date(o.expiresAt).getTime() > now);
  if (!live.length) return null;
  return (
    <div className="toasts" aria-live="assertive">
      {live.map((o) => (
        <OfferToast
          key={o.workItemId}
          offer={o}
          now={now}
          onDone={() => setOffers((old) => old.filter((x) => x.workItemId !== o.workItemId))}
        />
      ))}
    </div>
  );
}

function OfferToast({ offer, now, onDone }: { offer: Offer; now: number; onDone(): void }) {
  const { t } = useI18n();
  const { queues } = useWorkspace();
  const [c, setC] = useState<Conversation | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    request<Conversation>(`/conversations/${offer.conversationId}`).then(setC, () => {});
  }, [offer.conversationId]);
  // The tick only re-renders; the seconds are read from the clock now, never from a stale tick.
  const left = offer.expiresAt
    ? Math.max(0, Math.ceil((new Date(offer.expiresAt).getTime() - Math.max(now, Date.now())) / 1000))
    : null;
  const answer = async (accept: boolean) => {
    try {
      await request(`/offers/${offer.workItemId}/${accept ? "accept" : "reject"}`, { method: "POST" });
      onDone();
      if (accept) navigate({ page: "inbox", view: "mine", conversationId: offer.conversationId });
    } catch (e) {
      setError(e instanceof ApiError ? e.message : t("error.generic"));
    }
  };
  return (
    <div className="toast" role="alertdialog" aria-labelledby={`offer-${offer.workItemId}`} data-testid="offer">
      <strong id={`offer-${offer.workItemId}`}>
        {t("offer.title", { channel: t(`channel.${offer.channel}` as MessageKey) })}
      </strong>
      <p dir="auto">
        {c ? contactLabel(c.contact, t("contact.anonymous")) : ""}
        {queues.find((q) => q.id === offer.queueId) ? ` · ${queues.find((q) => q.id === offer.queueId)!.name}` : ""}
      </p>
      {c?.lastMessage.text && (
        <p className="quote" dir="auto">
          {previewText(c.lastMessage.text)}
        </p>
      )}
      {left !== null && (
        <p className="countdown" role="timer" data-testid="offer-countdown">
          {t("offer.left", { s: left })}
        </p>
      )}
      {error && <p className="error">{error}</p>}
      <div className="toast-actions">
        <button type="button" className="primary" onClick={() => answer(true)} data-testid="offer-accept" autoFocus>
          {t("offer.accept")}
        </button>
        <button type="button" onClick={() => answer(false)} data-testid="offer-reject">
          {t("offer.reject")}
        </button>
      </div>
    </div>
  );
}
