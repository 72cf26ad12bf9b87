import { useEffect, useMemo, useRef, useState, type KeyboardEvent } from "react";
import { renderTemplate } from "../../../conversations/canned-template.ts";
import { useWorkspace } from "./workspace.tsx";
import { InviteToCall } from "./browser-call.tsx";
import { ApiError, request } from "./client.ts";
import { useI18n } from "./i18n.ts";
import { KnowledgeSuggestions } from "./knowledge-panel.tsx";
import type { Canned, ContactProfile, Conversation, Me } from "./model.ts";
import type { Realtime } from "./realtime.ts";
import { ReplyWindowNotice, useReplyWindow } from "./reply-window.tsx";
import { applyMacro, useMacroMatches } from "./macro-menu.tsx";
import {
  needsTemplate,
  OptedOutNotice,
  ReplyVia,
  SegmentCount,
  TemplatePicker,
  templateReady,
  type TemplateChoice,
} from "./reply-via.tsx";

type Draft = { text: string; mode: "reply" | "note" };
type Uploaded = { id: string; name: string };

/** Drafts live in localStorage per conversation: a reload or an expired session keeps them. */
export const drafts = {
  key: (id: string) => `sb.draft.${id}`,
  load(id: string): Draft {
    try {
      const d = JSON.parse(localStorage.getItem(this.key(id)) ?? "null") as Draft | null;
      return d && typeof d.text === "string"
        ? { text: d.text, mode: d.mode === "note" ? "note" : "reply" }
        : { text: "", mode: "reply" };
    } catch {
      return { text: "", mode: "reply" };
    }
  },
  save(id: string, d: Draft) {
    if (d.text) localStorage.setItem(this.key(id), JSON.stringify(d));
    else localStorage.removeItem(this.key(id));
  },
};

const TYPING_EVERY_MS = 3000;

export function Composer({ conversation, me }: { conversation: Conversation; me: Me; realtime: Realtime }) {
  const { t } = useI18n();
  const { inboxes } = useWorkspace();
  const id = conversation.id;
  const [draft, setDraft] = useState<Draft>(() => drafts.load(id));
  const [inboxId, setInboxId] = useState(conversation.inboxId);
  const [template, setTemplate] = useState<TemplateChoice | null>(null);
  const [files, setFiles] = useState<Uploaded[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const [contact, setContact] = useState<ContactProfile | null>(null);
  const [canned, setCanned] = useState<Canned[] | null>(null);
  const [pick, setPick] = useState(0);
  // Email only: how the reply is addressed.
  const [emailKind, setEmailKind] = useState<"reply" | "replyAll" | "forward">("reply");
  const [forwardTo, setForwardTo] = useState("");
  const [subject, setSubject] = useState("");
  const input = useRef<HTMLTextAreaElement>(null);
  const typingSent = useRef(0);
  const typingStop = useRef<ReturnType<typeof setTimeout>>(undefined);

  useEffect(() => drafts.save(id, draft), [id, draft]);
  useEffect(() => setInboxId(conversation.inboxId), [conversation.inboxId]);
  useEffect(() => {
    request<ContactProfile>(`/contacts/${conversation.contact.id}`).then(setContact, () => {});
  }, [conversation.contact.id]);

  // Reply through the conversation's own inbox, or any other inbox that reaches the contact (replyOptions).
  const replyWindow = useReplyWindow(conversation);
  const options = replyWindow.options;
  const chosen = options.find((o) => o.inboxId === inboxId);
  // A conversation whose own inbox cannot carry a reply (a phone call) starts on the first that can.
  useEffect(() => {
    if (!options.some((o) => o.inboxId === inboxId)) {
      const first = options.find((o) => o.state !== "opted_out");
      if (first) setInboxId(first.inboxId);
    }
  }, [options, inboxId]);
  const channel = chosen?.channel ?? inboxes.find((i) => i.id === inboxId)?.channel ?? conversation.channel;
  const replying = draft.mode === "reply";
  // WeChat's 48 hours: nothing but notes once closed. WhatsApp's 24: a template instead of text.
  const wechatShut =
    replying &&
    (chosen
      ? chosen.channel === "wechat" && chosen.state !== "open"
      : replyWindow.closed && replyWindow.replyWindow?.code === "wechat_48h" && inboxId === conversation.inboxId);
  const templateOnly = replying && needsTemplate(chosen);
  const optedOut = replying && chosen?.state === "opted_out";
  const windowShut = wechatShut || optedOut || (templateOnly && !templateReady(chosen?.templates ?? [], template));

  // "/" at the start of the text opens canned responses, filtered by what follows it.
  const slash = /^\/(\S*)$/.exec(draft.text)?.[1];
  useEffect(() => {
    if (slash !== undefined && canned === null)
      request<{ items: Canned[] }>("/canned-responses").then(
        (r) => setCanned(r.items),
        () => setCanned([]),
      );
  }, [slash, canned]);
  // Macros sit beside canned responses under "/": choosing one applies it to the conversation.
  const macroMatches = useMacroMatches(slash);
  const runMacro = async (m: { id: string; name: string }) => {
    setError(null);
    try {
      await applyMacro(id, m.id);
      setDraft((d) => ({ ...d, text: "" }));
    } catch (e) {
      setError(e instanceof ApiError ? e.message : t("error.generic"));
    }
  };
  const matches = useMemo(() => {
    if (slash === undefined || !canned) return [];
    const q = slash.toLowerCase();
    return canned.filter((c) => c.shortcut.toLowerCase().includes(q) || c.title.toLowerCase().includes(q)).slice(0, 8);
  }, [slash, canned]);

  const vars = () => {
    const identity = (kind: string) => contact?.identities.find((i) => i.kind === kind)?.value ?? null;
    return {
      "contact.name": contact?.name ?? conversation.contact.name ?? "",
      "contact.email": identity("email"),
      "contact.phone": identity("phone"),
      "agent.name": me.name,
      "conversation.id": conversation.id,
    };
  };
  const insertCanned = (c: Canned) => {
    setDraft((d) => ({ ...d, text: renderTemplate(c.body, vars()) }));
    setPick(0);
    input.current?.focus();
  };

  const typing = (on: boolean) => {
    if (channel !== "webchat" || draft.mode === "note") return;
    const now = Date.now();
    clearTimeout(typingStop.current);
    if (on) {
      if (now - typingSent.current > TYPING_EVERY_MS) {
        typingSent.current = now;
        void request(`/conversations/${id}/typing`, { body: { typing: true } }).catch(() => {});
      }
      typingStop.current = setTimeout(() => typing(false), TYPING_EVERY_MS + 1000);
    } else if (typingSent.current) {
      typingSent.current = 0;
      void request(`/conversations/${id}/typing`, { body: { typing: false } }).catch(() => {});
    }
  };

  const upload = async (list: FileList | null) => {
    for (const file of list ?? []) {
      const form = new FormData();
      form.set("file", file);
      try {
        const stored = await request<Uploaded>("/attachments", { form });
        setFiles((f) => [...f, { id: stored.id, name: stored.name }]);
      } catch (e) {
        setError(e instanceof ApiError ? e.message : t("error.generic"));
      }
    }
  };

  const send = async () => {
    const text = draft.text.trim();
    if (sending || windowShut) return;
    if (templateOnly) return sendTemplate();
    if (!text && !files.length) return;
    const isEmail = channel === "email" && draft.mode === "reply";
    const to = forwardTo
      .split(/[,;\s]+/)
      .map((a) => a.trim())
      .filter(Boolean);
    if (isEmail && emailKind === "forward" && !to.length) {
      setError(t("email.forwardNeedsTo"));
      return;
    }
    setSending(true);
    setError(null);
    try {
      await request(`/conversations/${id}/messages`, {
        body: {
          text: text || undefined,
          private: draft.mode === "note",
          attachments: files.length ? files.map((f) => f.id) : undefined,
          inboxId: draft.mode === "reply" && inboxId !== conversation.inboxId ? inboxId : undefined,
          email: isEmail
            ? {
                replyAll: emailKind === "replyAll" || undefined,
                forward: emailKind === "forward" || undefined,
                to: emailKind === "forward" ? to : undefined,
                subject: subject.trim() || undefined,
              }
            : undefined,
        },
      });
      setDraft({ text: "", mode: draft.mode });
      setFiles([]);
      setForwardTo("");
      setSubject("");
      setEmailKind("reply");
      typing(false);
    } catch (e) {
      refused(e);
    } finally {
      setSending(false);
      input.current?.focus();
    }
  };

  // The window closed or the customer opted out between the last look and the send: say so in the UI's
  // words and read the options again (a closed WhatsApp window then shows the template picker).
  const refused = (e: unknown) => {
    if (e instanceof ApiError && e.code === "reply_window_closed") {
      setError(t(channel === "whatsapp" ? "window.refusedWhatsapp" : "window.refused"));
      replyWindow.refresh();
    } else if (e instanceof ApiError && e.code === "opted_out") {
      setError(t("via.refusedOptedOut"));
      replyWindow.refresh();
    } else setError(e instanceof ApiError ? e.message : t("error.generic"));
  };

  const sendTemplate = async () => {
    if (!template) return;
    setSending(true);
    setError(null);
    try {
      await request(`/conversations/${id}/messages`, {
        body: {
          template: { contentSid: template.contentSid, variables: template.variables },
          inboxId: inboxId !== conversation.inboxId ? inboxId : undefined,
        },
      });
      setTemplate(null);
    } catch (e) {
      refused(e);
    } finally {
      setSending(false);
    }
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (matches.length) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        setPick((p) => (p + (e.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length);
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        insertCanned(matches[Math.min(pick, matches.length - 1)]!);
        return;
      }
    }
    if (e.key === "Escape") {
      e.currentTarget.blur();
      return;
    }
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void send();
    }
  };

  const note = draft.mode === "note";
  return (
    <form
      className={`composer ${note ? "composer-note" : ""}`}
      data-testid="composer"
      onSubmit={(e) => (e.preventDefault(), void send())}
    >
      <div className="composer-bar" role="tablist" aria-label={t("composer.mode")}>
        <button
          type="button"
          role="tab"
          aria-selected={!note}
          onClick={() => setDraft((d) => ({ ...d, mode: "reply" }))}
          data-testid="mode-reply"
        >
          {t("composer.reply")}
        </button>
        <button
          type="button"
          role="tab"
          aria-selected={note}
          onClick={() => setDraft((d) => ({ ...d, mode: "note" }))}
          data-testid="mode-note"
        >
          {t("composer.note")}
        </button>
        {!note && options.length > 0 && (
          <ReplyVia
            options={options}
            value={inboxId}
            now={replyWindow.now}
            onChange={(next) => (setInboxId(next), setTemplate(null))}
          />
        )}
      </div>
      {!note && (
        <KnowledgeSuggestions
          conversationId={id}
          lastActivity={conversation.lastActivityAt}
          onInsert={(text) => (
            setDraft((d) => ({ ...d, text: d.text.trim() ? `${d.text.trimEnd()}\n${text}` : text })),
            input.current?.focus()
          )}
        />
      )}
      {!note && channel === "email" && (
        <div className="composer-email" data-testid="email-options">
          <div role="radiogroup" aria-label={t("email.kind")}>
            {(["reply", "replyAll", "forward"] as const).map((k) => (
              <label key={k} className="inline">
                <input
                  type="radio"
                  name={`email-kind-${id}`}
                  checked={emailKind === k}
                  onChange={() => setEmailKind(k)}
                  data-testid={`email-${k}`}
                />{" "}
                {t(`email.${k}`)}
              </label>
            ))}
          </div>
          {emailKind === "forward" && (
            <label className="field">
              <span>{t("email.forwardTo")}</span>
              <input
                type="text"
                value={forwardTo}
                onChange={(e) => setForwardTo(e.target.value)}
                data-testid="email-forward-to"
              />
            </label>
          )}
          <label className="field">
            <span>{t("email.subject")}</span>
            <input
              type="text"
              value={subject}
              maxLength={998}
              onChange={(e) => setSubject(e.target.value)}
              data-testid="email-subject"
            />
          </label>
        </div>
      )}
      {matches.length + macroMatches.length > 0 && (
        <ul className="canned" role="listbox" aria-label={t("composer.canned")} data-testid="canned-list">
          {matches.map((c, i) => (
            <li
              key={c.id}
              role="option"
              aria-selected={i === pick}
              onMouseDown={(e) => (e.preventDefault(), insertCanned(c))}
            >
              <strong>/{c.shortcut}</strong> {c.title}
            </li>
          ))}
          {macroMatches.map((m) => (
            <li
              key={m.id}
              role="option"
              aria-selected={false}
              data-testid="macro-option"
              onMouseDown={(e) => (e.preventDefault(), void runMacro(m))}
            >
              <strong>{t("macro.menu")}</strong> {m.name}
            </li>
          ))}
        </ul>
      )}
      {!note && (
        <ReplyWindowNotice
          conversationId={id}
          contactId={conversation.contact.id}
          state={replyWindow}
          onUseInbox={setInboxId}
        />
      )}
      {optedOut && chosen && <OptedOutNotice option={chosen} />}
      {templateOnly && chosen && <TemplatePicker option={chosen} value={template} onChange={setTemplate} />}
      <label className="visually-hidden" htmlFor={`composer-${id}`}>
        {note ? t("composer.notePlaceholder") : t("composer.placeholder")}
      </label>
      <textarea
        hidden={templateOnly}
        id={`composer-${id}`}
        ref={input}
        data-testid="composer-input"
        dir="auto"
        rows={3}
        value={draft.text}
        placeholder={note ? t("composer.notePlaceholder") : t("composer.placeholder")}
        onChange={(e) => {
          setDraft((d) => ({ ...d, text: e.target.value }));
          typing(e.target.value.length > 0);
        }}
        onBlur={() => typing(false)}
        onKeyDown={onKeyDown}
        maxLength={20_000}
      />
      {replying && channel === "sms" && !optedOut && <SegmentCount text={draft.text} />}
      {files.length > 0 && (
        <ul className="pending-files">
          {files.map((f) => (
            <li key={f.id}>
              📎 {f.name}
              <button
                type="button"
                aria-label={t("composer.removeFile", { name: f.name })}
                onClick={() => setFiles((all) => all.filter((x) => x.id !== f.id))}
              >
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="composer-actions">
        {/* A template carries its own approved content: no files beside it. */}
        {!templateOnly && (
          <label className="attach">
            📎 <span>{t("composer.attach")}</span>
            <input
              type="file"
              multiple
              onChange={(e) => (void upload(e.target.files), (e.target.value = ""))}
              data-testid="attach"
            />
          </label>
        )}
        <span className="hint">{t("composer.hint")}</span>
        <InviteToCall conversation={conversation} />
        <button type="submit" className="primary" disabled={sending || windowShut} data-testid="send">
          {note ? t("composer.addNote") : templateOnly ? t("template.send") : t("composer.send")}
        </button>
      </div>
    </form>
  );
}
