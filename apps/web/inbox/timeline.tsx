import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import { useFrames, useWorkspace } from "./workspace.tsx";
import { fileUrl, request } from "./client.ts";
import { clock, useI18n } from "./i18n.ts";
import type { MessageKey } from "./catalog.ts";
import { CallTakenBy } from "./browser-call.tsx";
import { ChannelBadge } from "./channel-badge.tsx";
import type { Conversation, Item } from "./model.ts";
import { TicketCreatedEvent } from "./ticket-badges.tsx";
import { MessageText } from "./masked-text.tsx";

type Page = { items: Item[]; nextCursor: string | null };

function merge(old: Item[], incoming: Item[]) {
  const byId = new Map(old.map((i) => [i.id, i]));
  for (const i of incoming) byId.set(i.id, i);
  return [...byId.values()].sort((a, b) => a.seq - b.seq);
}

/**
 * Every item of the conversation in seq order, whatever the channel. Scrolling to the top pages back
 * by seq; new items arrive over the socket and keep the view pinned to the bottom if it was there.
 */
export function Timeline({ conversation }: { conversation: Conversation }) {
  const { t } = useI18n();
  const id = conversation.id;
  const [items, setItems] = useState<Item[]>([]);
  const [before, setBefore] = useState<string | null>(null);
  const [typing, setTyping] = useState<string | null>(null);
  const scroller = useRef<HTMLOListElement>(null);
  const pinned = useRef(true);
  const keepOffset = useRef<number | null>(null);
  const loadingOlder = useRef(false);

  const markRead = useCallback(
    (seq: number) => void request(`/conversations/${id}/read`, { body: { seq } }).catch(() => {}),
    [id],
  );

  useEffect(() => {
    request<Page>(`/conversations/${id}/timeline?limit=50`).then(
      (page) => {
        setItems(page.items);
        setBefore(page.nextCursor);
        const last = page.items[page.items.length - 1];
        if (last) markRead(last.seq);
      },
      () => {},
    );
  }, [id, markRead]);

  useFrames(
    (f) => {
      if (f.conversationId !== id) return;
      if ((f.type === "item.created" || f.type === "item.updated") && f.item) {
        setItems((old) => merge(old, [f.item as Item]));
        if (f.type === "item.created") {
          if ((f.item as Item).direction === "in") setTyping(null);
          if (document.visibilityState === "visible") markRead((f.item as Item).seq);
        }
      }
      if (f.type === "typing" && f.sender?.type === "contact")
        setTyping(f.typing ? (f.sender.name ?? t("contact.anonymous")) : null);
    },
    [id, markRead, t],
  );
  // A customer who stops typing without sending: the indicator goes away on its own.
  useEffect(() => {
    if (!typing) return;
    const timer = setTimeout(() => setTyping(null), 6000);
    return () => clearTimeout(timer);
  }, [typing]);

  const older = async () => {
    if (!before || loadingOlder.current) return;
    loadingOlder.current = true;
    const el = scroller.current!;
    keepOffset.current = el.scrollHeight - el.scrollTop;
    const page = await request<Page>(`/conversations/${id}/timeline?limit=50&before=${before}`).finally(
      () => (loadingOlder.current = false),
    );
    setItems((old) => merge(old, page.items));
    setBefore(page.nextCursor);
  };

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    if (keepOffset.current !== null) {
      el.scrollTop = el.scrollHeight - keepOffset.current;
      keepOffset.current = null;
    } else if (pinned.current) el.scrollTop = el.scrollHeight;
  }, [items, typing]);

  return (
    <ol
      className="timeline"
      ref={scroller}
      aria-label={t("timeline.label")}
      aria-live="polite"
      data-testid="timeline"
      onScroll={(e) => {
        const el = e.currentTarget;
        pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
        if (el.scrollTop < 60) void older();
      }}
    >
      {before && (
        <li className="older">
          <button type="button" onClick={older}>
            {t("timeline.older")}
          </button>
        </li>
      )}
      {items.map((item) => (
        <TimelineItem key={item.id} item={item} conversationId={id} />
      ))}
      {typing && (
        <li className="typing" data-testid="customer-typing">
          {t("timeline.typing", { name: typing })}
        </li>
      )}
    </ol>
  );
}

function TimelineItem({ item, conversationId }: { item: Item; conversationId: string }) {
  const { t, when } = useI18n();
  if (item.type === "event" && item.eventType === "ticket_created") return <TicketCreatedEvent item={item} />;
  if (item.type === "event") return <EventItem item={item} />;
  const kind = item.type === "note" ? "note" : item.type === "call" ? "call" : item.direction === "in" ? "in" : "out";
  // A note or reply an automation rule wrote names the rule; one a macro wrote names the agent, then the macro.
  const { rule, macro } = item.data as { rule?: { name: string }; macro?: { name: string } };
  const sender = rule
    ? t("automation.byRule", { name: rule.name })
    : (item.sender.name ??
      (item.sender.type === "contact"
        ? t("contact.anonymous")
        : item.sender.type === "bot"
          ? t("timeline.bot")
          : t("timeline.system")));
  const data = item.data as {
    subject?: string;
    quotedText?: string;
    durationS?: number;
    recordingUrl?: string;
    transcript?: string;
    to?: string[];
    cc?: string[];
    from?: string;
    senderAuth?: { verdict: "pass" | "none" | "fail"; dkim: string; spf: string | null; dmarc: string };
  };
  const auth = item.direction === "in" ? data.senderAuth : undefined;
  const call = item.data as {
    status?: string;
    from?: string | null;
    to?: string | null;
    waitS?: number;
    holdS?: number;
  };
  return (
    <li
      className={`item item-${kind}`}
      data-testid="timeline-item"
      data-seq={item.seq}
      data-type={item.type}
      data-direction={item.direction ?? ""}
      data-item-id={item.id}
    >
      <div className="item-head">
        {item.channel && <ChannelBadge channel={item.channel} inboxId={item.inboxId} />}
        <span className="sender" dir="auto">
          {sender}
        </span>
        {macro && <span className="via">{t("automation.viaMacro", { name: macro.name })}</span>}
        {item.private && <span className="note-tag">{t("timeline.note")}</span>}
        <time dateTime={item.createdAt}>{when(item.createdAt)}</time>
      </div>
      {data.subject && (
        <div className="email-head">
          <strong dir="auto">{data.subject}</strong>
          {data.from && (
            <span>
              {t("email.from")}: {data.from}
            </span>
          )}
          {/* Anyone can write any From: mail its domain did not vouch for says so, forged mail loudly. */}
          {auth && auth.verdict !== "pass" && (
            <span
              className={`sender-auth sender-auth-${auth.verdict}`}
              data-testid="sender-auth"
              data-verdict={auth.verdict}
              title={`DKIM ${auth.dkim} · SPF ${auth.spf ?? "-"} · DMARC ${auth.dmarc}`}
            >
              {t(auth.verdict === "fail" ? "email.senderFailed" : "email.senderUnverified")}
            </span>
          )}
          {data.to?.length ? (
            <span>
              {t("email.to")}: {data.to.join(", ")}
            </span>
          ) : null}
          {data.cc?.length ? (
            <span>
              {t("email.cc")}: {data.cc.join(", ")}
            </span>
          ) : null}
        </div>
      )}
      {item.type === "call" && (
        <div className="call" data-testid="call-item" data-status={call.status ?? ""}>
          <span>
            📞{" "}
            {item.direction === "out"
              ? t("call.out", { to: call.to ?? "" })
              : t("call.in", { from: call.from?.startsWith("client:") ? sender : (call.from ?? sender) })}
          </span>
          <span className="call-status">{call.status ? t(`call.status.${call.status}` as MessageKey) : ""}</span>
          <span>
            {t("call.duration", { d: clock(data.durationS ?? 0) })}
            {call.waitS ? ` · ${t("call.wait", { d: clock(call.waitS) })}` : ""}
            {call.holdS ? ` · ${t("call.hold", { d: clock(call.holdS) })}` : ""}
          </span>
          <CallTakenBy data={item.data} />
          {data.recordingUrl && <Recording url={data.recordingUrl} />}
          {data.transcript && (
            <details>
              <summary>{t("call.transcript")}</summary>
              <p dir="auto">{data.transcript}</p>
            </details>
          )}
        </div>
      )}
      {/* Text only, never HTML: whatever a customer sends renders inert. */}
      {(item.text ?? htmlText(item.html)) && (
        <MessageText text={(item.text ?? htmlText(item.html))!} conversationId={conversationId} itemId={item.id} />
      )}
      {data.quotedText && (
        <details className="quoted">
          <summary>{t("email.quoted")}</summary>
          <p dir="auto">{data.quotedText}</p>
        </details>
      )}
      {item.attachments.length > 0 && (
        <ul className="attachments">
          {item.attachments.map((a) => (
            <li key={a.id}>
              <Attachment a={a} />
            </li>
          ))}
        </ul>
      )}
      {item.direction === "out" && item.type === "message" && <Delivery item={item} conversationId={conversationId} />}
    </li>
  );
}

/** HTML bodies (email) shown as their text until the email issue brings server-side sanitizing. */
function htmlText(html: string | null) {
  if (!html) return null;
  return new DOMParser().parseFromString(html, "text/html").body.textContent?.trim() || null;
}

function Delivery({ item, conversationId }: { item: Item; conversationId: string }) {
  const { t } = useI18n();
  const [retrying, setRetrying] = useState(false);
  const status = item.status ?? "pending";
  return (
    <div className={`delivery delivery-${status}`} data-testid="delivery" data-status={status}>
      {t(`delivery.${status}` as MessageKey)}
      {status === "failed" && (
        <>
          {item.error && <span className="delivery-error"> — {item.error}</span>}
          <button
            type="button"
            disabled={retrying}
            onClick={() => {
              setRetrying(true);
              void request(`/conversations/${conversationId}/messages/${item.id}/retry`, { method: "POST" }).finally(
                () => setRetrying(false),
              );
            }}
          >
            {t("delivery.retry")}
          </button>
        </>
      )}
    </div>
  );
}

function Attachment({ a }: { a: Item["attachments"][number] }) {
  const { t } = useI18n();
  const [src, setSrc] = useState<string | null>(null);
  const image = a.contentType.startsWith("image/");
  // A voice note in a format the browser cannot play (WeChat's AMR, if it was kept as sent) is a download.
  const audio = a.contentType.startsWith("audio/") && document.createElement("audio").canPlayType(a.contentType) !== "";
  useEffect(() => {
    if (!image && !audio) return;
    let url: string | undefined;
    fileUrl(a.url).then(
      (u) => setSrc((url = u)),
      () => {},
    );
    return () => {
      if (url) URL.revokeObjectURL(url);
    };
  }, [a.url, image, audio]);
  const download = async () => {
    const url = await fileUrl(a.url);
    const link = Object.assign(document.createElement("a"), { href: url, download: a.name });
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };
  if (image && src) return <img src={src} alt={a.name} className="attachment-image" />;
  if (audio && src) return <audio controls src={src} aria-label={a.name} />;
  return (
    <button type="button" className="attachment-file" onClick={download}>
      📎 {a.name} ({t("file.kb", { n: Math.max(1, Math.round(a.size / 1024)) })})
    </button>
  );
}

function Recording({ url }: { url: string }) {
  const [src, setSrc] = useState<string | null>(null);
  useEffect(() => {
    let u: string | undefined;
    fileUrl(url).then(
      (x) => setSrc((u = x)),
      () => {},
    );
    return () => {
      if (u) URL.revokeObjectURL(u);
    };
  }, [url]);
  return src ? <audio controls src={src} /> : null;
}

function EventItem({ item }: { item: Item }) {
  const { t, when } = useI18n();
  const { users, queues } = useWorkspace();
  const d = item.data as Record<string, any>;
  // A rule's change reads "… by rule X"; a macro's names the agent, then "via macro Y" below.
  const who = d.rule
    ? t("automation.byRule", { name: d.rule.name })
    : (item.sender.name ?? d.by ?? t("timeline.system"));
  const nameOf = (userId: unknown) => users.find((u) => u.id === userId)?.name ?? "";
  const queueName = (queueId: unknown) => queues.find((q) => q.id === queueId)?.name ?? d.queueName ?? "";
  let text: string;
  switch (item.eventType) {
    case "assigned":
      text = d.assigneeName ? t("event.assigned", { who, to: d.assigneeName }) : t("event.unassigned", { who });
      break;
    case "transferred":
      text = t("event.transferred", { who, to: d.teamName ?? d.queueName ?? nameOf(d.agentId) });
      break;
    case "queued":
      text = t("event.queued", { queue: queueName(d.queueId) });
      break;
    case "ivr":
      text = t("event.ivr", {
        path: ((d.steps ?? []) as { node: string; input?: string }[])
          .map((x) => (x.input ? `${x.node} (${x.input})` : x.node))
          .join(" → "),
      });
      break;
    case "call_abandoned":
      text = t("event.callAbandoned", { d: clock(d.waitS ?? 0) });
      break;
    case "callback_requested":
      text = t("event.callbackRequested", { number: d.number ?? "" });
      break;
    case "voicemail":
      text = t("event.voicemail");
      break;
    case "recording_started":
      text = t("event.recordingStarted");
      break;
    case "call_monitored":
      text = t("event.callMonitored", { who: nameOf(d.supervisorId), mode: t(`call.monitor.${d.mode}` as MessageKey) });
      break;
    case "consult_ended":
      text = t("event.consultEnded");
      break;
    case "agent_leg_failed":
      text = t("event.agentLegFailed", { agent: nameOf(d.agentId) });
      break;
    case "call_transferred_out":
      text = t("event.callTransferredOut", { number: d.number ?? "" });
      break;
    case "offer_missed":
      text = t("event.offerMissed", { agent: nameOf(d.agentId) });
      break;
    case "overflow":
      text = t("event.overflow", { queue: queueName(d.toQueueId ?? d.queueId) });
      break;
    case "status_changed":
      text = t("event.status", { who, to: t(`status.${d.to}` as MessageKey) });
      break;
    case "labels_changed":
      text = t("event.labels", { who, labels: (d.labels ?? []).join(", ") || "—" });
      break;
    case "escalated":
      text = t("event.escalated", { who, to: d.channel ?? "" });
      break;
    case "telegram.start":
      text = t("event.telegramStart", { who });
      break;
    default:
      text = t("event.other", { who, what: item.eventType ?? "" });
  }
  return (
    <li
      className="item item-event"
      data-testid="timeline-item"
      data-seq={item.seq}
      data-type="event"
      data-event={item.eventType ?? ""}
    >
      <span dir="auto">{text}</span>
      {d.macro && <span className="via">{t("automation.viaMacro", { name: d.macro.name })}</span>}
      {d.note && <q dir="auto">{d.note}</q>}
      <time dateTime={item.createdAt}>{when(item.createdAt)}</time>
    </li>
  );
}
