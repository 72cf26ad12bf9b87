import { SlaClock } from "./sla-clock.tsx";
import { useCallback, useEffect, useState } from "react";
import { CsatBadge } from "./csat-badge.tsx";
import { QaPanel } from "./qa-panel.tsx";
import { useFrames, useWorkspace } from "./workspace.tsx";
import { ApiError, request } from "./client.ts";
import { Composer } from "./composer.tsx";
import { ContactPanel } from "./contact.tsx";
import { isTyping } from "./hooks.ts";
import { useI18n } from "./i18n.ts";
import type { MessageKey } from "./catalog.ts";
import { ChannelBadge, useChannelKind } from "./channel-badge.tsx";
import { contactLabel, type Conversation } from "./model.ts";
import { Participants } from "./participants.tsx";
import { navigate } from "./route.ts";
import { Timeline } from "./timeline.tsx";
import { can } from "../../../platform/permission.ts";
import { CreateTicketButton } from "./ticket-create.tsx";
import { MacroMenu } from "./macro-menu.tsx";

/** One conversation: header with its actions, the timeline, the composer and the contact panel. */
export function ConversationPane({ id, view }: { id: string; view: string }) {
  const { t } = useI18n();
  const { me, realtime, inboxes } = useWorkspace();
  // Click-to-call needs a phone line; the server rings the agent's softphone, then the contact.
  const hasPhone = inboxes.some((i) => i.channel === "voice");
  const [c, setC] = useState<Conversation | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [showContact, setShowContact] = useState(() => matchMedia("(min-width: 1100px)").matches);
  // The side panel shows the conversation's contact, or a participant someone clicked.
  const [panelContactId, setPanelContactId] = useState<string | null>(null);
  useEffect(() => setPanelContactId(null), [id]);

  useEffect(() => {
    request<Conversation>(`/conversations/${id}`).then(setC, (e) =>
      setError(e instanceof ApiError && e.status === 404 ? t("conversation.gone") : t("error.generic")),
    );
  }, [id, t]);
  useFrames(
    (f) => {
      if (f.conversationId !== id) return;
      if (f.type === "conversation.updated" && f.conversation)
        setC((old) => ({
          ...old,
          ...(f.conversation as Conversation),
          contact: { ...old?.contact, ...f.conversation.contact },
        }));
    },
    [id],
  );
  useFrames(
    (f) =>
      f.type === "contact.updated" &&
      setC((old) =>
        old && old.contact.id === f.contact?.id ? { ...old, contact: { ...old.contact, name: f.contact.name } } : old,
      ),
    [],
  );

  const act = useCallback(
    async (path: string, body: unknown, method = "POST") => {
      setError(null);
      try {
        // Transfers to a queue or agent answer with the work item: the socket brings the conversation.
        const answer = await request<Conversation | undefined>(`/conversations/${id}/${path}`, { body, method });
        if (answer && "contact" in answer) setC(answer);
      } catch (e) {
        setError(e instanceof ApiError ? e.message : t("error.generic"));
      }
    },
    [id, t],
  );
  const resolve = useCallback(
    () => act("status", { status: c?.status === "resolved" ? "open" : "resolved" }),
    [act, c?.status],
  );

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (isTyping(e.target) || e.metaKey || e.ctrlKey || e.altKey) return;
      if (e.key === "e") {
        e.preventDefault();
        void resolve();
      } else if (e.key === "r") {
        e.preventDefault();
        document.querySelector<HTMLTextAreaElement>("[data-testid=composer-input]")?.focus();
      } else if (e.key === "Escape") navigate({ page: "inbox", view, conversationId: null });
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, [resolve, view]);

  if (!c)
    return (
      <section className="conversation-pane">
        {error ? (
          <p className="error" role="alert">
            {error}
          </p>
        ) : (
          <div aria-busy="true" />
        )}
      </section>
    );
  return (
    <div className="conversation-area" data-testid="conversation" data-conversation-id={c.id} data-status={c.status}>
      <section className="conversation-pane" aria-label={t("conversation.label")}>
        <header className="conversation-header">
          <a className="back" href={`#/inbox/${view}`} aria-label={t("conversation.back")}>
            ←
          </a>
          <ChannelBadge channel={c.channel} inboxId={c.inboxId} />
          <ChannelKind channel={c.channel} inboxId={c.inboxId} />
          <h2 dir="auto">{contactLabel(c.contact, t("contact.anonymous"))}</h2>
          <span className={`status status-${c.status}`} data-testid="conversation-status">
            {t(`status.${c.status}` as MessageKey)}
          </span>
          <CsatBadge c={c} />
          <SlaClock sla={c.sla} />
          <div className="actions">
            <AssignSelect c={c} onAssign={(assigneeId) => act("assign", { assigneeId })} />
            <TransferMenu onTransfer={(target) => act("transfer", target)} />
            {hasPhone && (
              <button type="button" onClick={() => act("calls", {})} data-testid="dial" title={t("call.callBack")}>
                📞 {t("call.dial")}
              </button>
            )}
            {can(me, "tickets.write") && <CreateTicketButton conversation={c} />}
            {can(me, "macros.apply") && <MacroMenu conversationId={c.id} />}
            <SnoozeMenu
              onSnooze={(until) => act("status", { status: "snoozed", snoozedUntil: until })}
              disabled={c.status === "resolved"}
            />
            <button
              type="button"
              className={c.status === "resolved" ? "" : "primary"}
              onClick={resolve}
              data-testid="resolve"
              title={c.status === "resolved" ? "" : "e"}
            >
              {c.status === "resolved" ? t("conversation.reopen") : t("conversation.resolve")}
            </button>
            <button
              type="button"
              aria-pressed={showContact}
              onClick={() => (setPanelContactId(null), setShowContact((s) => !s))}
              data-testid="toggle-contact"
            >
              {t("contact.title")}
            </button>
          </div>
        </header>
        <Participants conversation={c} onOpen={(contactId) => (setPanelContactId(contactId), setShowContact(true))} />
        <Labels c={c} onChange={(labels) => act("labels", labels, "PUT")} />
        {can(me, "qa.read") && <QaPanel conversationId={c.id} />}
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <Timeline conversation={c} />
        <Composer conversation={c} me={me} realtime={realtime} />
      </section>
      {showContact && (
        <ContactPanel
          key={panelContactId ?? c.contact.id}
          contactId={panelContactId ?? c.contact.id}
          currentConversationId={c.id}
          onClose={() => setShowContact(false)}
        />
      )}
    </div>
  );
}

/** The kind of WeChat inbox, spelled out in the header: agents answer a 公众号 and a 微信机器人 differently. */
function ChannelKind({ channel, inboxId }: { channel: Conversation["channel"]; inboxId: string | null }) {
  const kind = useChannelKind(channel, inboxId);
  return kind ? (
    <span className="channel-kind" data-testid="channel-kind">
      {kind}
    </span>
  ) : null;
}

function AssignSelect({ c, onAssign }: { c: Conversation; onAssign(id: string | null): void }) {
  const { t } = useI18n();
  const { me, users } = useWorkspace();
  const agentOnly = me.role === "agent";
  // Agents may only take or drop work; supervisors and admins pick anyone.
  const everyone = users.some((u) => u.id === me.id) ? users : [{ id: me.id, name: me.name, role: me.role }, ...users];
  const people = agentOnly
    ? everyone.filter((u) => u.id === me.id || u.id === c.assigneeId)
    : everyone.filter((u) => u.role !== "knowledge_editor");
  // Someone the list does not know yet (just invited): still shown as the assignee.
  if (c.assigneeId && !people.some((u) => u.id === c.assigneeId))
    people.push({ id: c.assigneeId, name: "…", role: "agent" });
  return (
    <label className="field inline">
      <span className="visually-hidden">{t("conversation.assignee")}</span>
      <select
        data-testid="assignee"
        value={c.assigneeId ?? ""}
        onChange={(e) => onAssign(e.target.value || null)}
        aria-label={t("conversation.assignee")}
      >
        <option value="">{t("conversation.unassigned")}</option>
        {people.map((u) => (
          <option key={u.id} value={u.id}>
            {u.id === me.id ? t("conversation.me", { name: u.name }) : u.name}
          </option>
        ))}
      </select>
    </label>
  );
}

function TransferMenu({
  onTransfer,
}: {
  onTransfer(target: { teamId?: string; queueId?: string; agentId?: string }): void;
}) {
  const { t } = useI18n();
  const { teams, queues, users, me } = useWorkspace();
  return (
    <label className="field inline">
      <span className="visually-hidden">{t("conversation.transfer")}</span>
      <select
        aria-label={t("conversation.transfer")}
        value=""
        data-testid="transfer"
        onChange={(e) => {
          const [kind, id] = e.target.value.split(":");
          if (kind && id) onTransfer({ [`${kind}Id`]: id });
        }}
      >
        <option value="">{t("conversation.transfer")}…</option>
        {queues.length > 0 && (
          <optgroup label={t("filter.queue")}>
            {queues.map((q) => (
              <option key={q.id} value={`queue:${q.id}`}>
                {q.name}
              </option>
            ))}
          </optgroup>
        )}
        {teams.length > 0 && (
          <optgroup label={t("filter.team")}>
            {teams.map((x) => (
              <option key={x.id} value={`team:${x.id}`}>
                {x.name}
              </option>
            ))}
          </optgroup>
        )}
        <optgroup label={t("conversation.agents")}>
          {users
            .filter((u) => u.id !== me.id && u.role !== "knowledge_editor")
            .map((u) => (
              <option key={u.id} value={`agent:${u.id}`}>
                {u.name}
              </option>
            ))}
        </optgroup>
      </select>
    </label>
  );
}

function SnoozeMenu({ onSnooze, disabled }: { onSnooze(until: string): void; disabled: boolean }) {
  const { t } = useI18n();
  const at = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();
  const tomorrow = () => {
    const d = new Date();
    d.setDate(d.getDate() + 1);
    d.setHours(9, 0, 0, 0);
    return d.toISOString();
  };
  return (
    <label className="field inline">
      <span className="visually-hidden">{t("conversation.snooze")}</span>
      <select
        aria-label={t("conversation.snooze")}
        value=""
        disabled={disabled}
        onChange={(e) =>
          e.target.value && onSnooze(e.target.value === "tomorrow" ? tomorrow() : at(Number(e.target.value)))
        }
      >
        <option value="">{t("conversation.snooze")}…</option>
        <option value="1">{t("snooze.hour")}</option>
        <option value="4">{t("snooze.hours4")}</option>
        <option value="tomorrow">{t("snooze.tomorrow")}</option>
      </select>
    </label>
  );
}

function Labels({ c, onChange }: { c: Conversation; onChange(body: { labels: string[] }): void }) {
  const { t } = useI18n();
  const [adding, setAdding] = useState("");
  return (
    <div className="labels" aria-label={t("conversation.labels")}>
      {c.labels.map((l) => (
        <span key={l} className="label-chip">
          {l}
          <button
            type="button"
            aria-label={t("conversation.removeLabel", { label: l })}
            onClick={() => onChange({ labels: c.labels.filter((x) => x !== l) })}
          >
            ×
          </button>
        </span>
      ))}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const label = adding.trim();
          if (label) onChange({ labels: [...c.labels, label] });
          setAdding("");
        }}
      >
        <input
          value={adding}
          onChange={(e) => setAdding(e.target.value)}
          placeholder={t("conversation.addLabel")}
          aria-label={t("conversation.addLabel")}
          maxLength={100}
        />
      </form>
    </div>
  );
}
