import { sql } from "drizzle-orm";
import { wechatyInbound, type WechatyMessageFacts } from "../../../channels/wechat/wechaty-inbound.ts";
import { contactsOfIdentities } from "../../../conversations/contact.ts";
import type { InboundQueue } from "../../../conversations/inbound-queue.ts";
import type { Db } from "../../../db/connect.ts";
import { emailParticipants } from "../../../db/schema/index.ts";
import type { RoomMember } from "./wechaty-bot.ts";

/**
 * A message a Wechaty bot received, into the timeline and the queue. A room's members become the
 * participants of the room's conversation (each a contact of their own, by the Wechaty contact id),
 * so agents see who is in the group and a member's direct chat is the same contact.
 */
export async function receiveWechatyMessage(
  deps: { db: Db; inbound: InboundQueue },
  target: { workspaceId: string; inboxId: string },
  facts: WechatyMessageFacts,
  members: RoomMember[] | undefined,
) {
  const inbound = wechatyInbound(facts, target.inboxId);
  if (!inbound) return;
  const result = await deps.inbound.submit(target.workspaceId, inbound);
  if (!facts.room || result.duplicate) return;
  const everyone = new Map((members ?? []).map((m) => [m.id, m.name]));
  everyone.set(facts.talker.id, facts.talker.name || facts.talker.id);
  await recordParticipants(deps.db, target.workspaceId, result.conversation.id, everyone);
}

/**
 * The participants table is the one email's Cc'd people live in: a conversation's other people, each
 * a contact, read by `GET /conversations/{id}/participants`. For a room the address is the member's
 * Wechaty contact id; reply-all and threading read it only for email conversations.
 */
async function recordParticipants(db: Db, workspaceId: string, conversationId: string, members: Map<string, string>) {
  if (!members.size) return;
  await db.transaction(async (tx) => {
    const contactOf = await contactsOfIdentities(
      tx,
      workspaceId,
      [...members].map(([id, name]) => ({ kind: "wechaty" as const, value: id, displayName: name.slice(0, 200) })),
    );
    await tx
      .insert(emailParticipants)
      .values(
        [...members].map(([id, name]) => ({
          workspaceId,
          conversationId,
          address: id,
          name: name.slice(0, 200),
          contactId: contactOf.get(id) ?? null,
        })),
      )
      .onConflictDoUpdate({
        target: [emailParticipants.conversationId, emailParticipants.address],
        set: { name: sql`excluded.name` },
      });
  });
}
