import { useCallback, useEffect, useState } from "react";
import { useFrames } from "./workspace.tsx";
import { request } from "./client.ts";
import { useI18n } from "./i18n.ts";
import type { Conversation, Participant } from "./model.ts";

/**
 * The people an email conversation's mail was also addressed to (Cc'd), or a WeChat group's members (a
 * Wechaty room is one conversation), each a contact of their own: shown under the header, a click opens
 * their contact in the side panel. Reply-all writes to an email's.
 */
export function Participants({
  conversation,
  onOpen,
}: {
  conversation: Conversation;
  onOpen(contactId: string): void;
}) {
  const { t } = useI18n();
  const [people, setPeople] = useState<Participant[]>([]);
  const hasPeople = conversation.channel === "email" || conversation.channel === "wechat";
  const load = useCallback(() => {
    if (hasPeople)
      void request<{ items: Participant[] }>(`/conversations/${conversation.id}/participants`).then(
        (r) => setPeople(r.items),
        () => setPeople([]),
      );
  }, [conversation.id, hasPeople]);
  useEffect(() => {
    setPeople([]);
    load();
  }, [load]);
  // A new mail in the thread may copy someone new; a group's new message may come from a new member.
  useFrames(
    (f) =>
      f.type === "item.created" && f.conversationId === conversation.id && f.item?.channel === conversation.channel
        ? load()
        : undefined,
    [conversation.id, load],
  );
  if (!people.length) return null;
  return (
    <div className="participants" data-testid="participants">
      <span className="muted">{t("email.participants")}:</span>
      {people.map((p) => (
        <button
          key={p.address}
          type="button"
          className="chip"
          title={p.address}
          aria-label={t("email.participantOpen", { name: p.name ?? p.address })}
          onClick={() => onOpen(p.contactId)}
          data-testid="participant"
          data-contact-id={p.contactId}
        >
          {p.name ? `${p.name} <${p.address}>` : p.address}
        </button>
      ))}
    </div>
  );
}
