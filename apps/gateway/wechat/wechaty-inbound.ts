import { sql } from "drizzle-orm";
import { wechatyInbound, type WechatyMessageFacts } from "../../../channels/wechat/wechaty-inbound.ts";
import { MAX_ATTACHMENT_BYTES, type AttachmentStore } from "../../../conversations/attachment.ts";
import { contactsOfIdentities, resolveContact } from "../../../conversations/contact.ts";
import type { InboundQueue } from "../../../conversations/inbound-queue.ts";
import type { Db } from "../../../db/connect.ts";
import { emailParticipants } from "../../../db/schema/index.ts";
import { log } from "../../../platform/log.ts";
import type { RoomMember, WechatyFile } from "./wechaty-bot.ts";

/**
 * A message a Wechaty bot received, into the timeline and the queue. A room's members become the
 * participants of the room's conversation (each a contact of their own, by the Wechaty contact id),
 * so agents see who is in the group and a member's direct chat is the same contact.
 */
export async function receiveWechatyMessage(
  deps: { db: Db; inbound: InboundQueue; files: AttachmentStore },
  target: { workspaceId: string; inboxId: string },
  facts: WechatyMessageFacts,
  members: RoomMember[] | undefined,
  file?: () => Promise<WechatyFile>,
) {
  const inbound = wechatyInbound(facts, target.inboxId);
  if (!inbound) return;
  if (file) {
    const attachment = await download(deps, target.workspaceId, inbound.from, file);
    if (attachment) inbound.attachments = [attachment];
  }
  const result = await deps.inbound.submit(target.workspaceId, inbound);
  if (!facts.room || result.duplicate) return;
  const everyone = new Map((members ?? []).map((m) => [m.id, m.name]));
  everyone.set(facts.talker.id, facts.talker.name || facts.talker.id);
  await recordParticipants(deps.db, target.workspaceId, result.conversation.id, everyone);
}

/**
 * A media message's file as an attachment of the message's contact, with the limits of uploads; a
 * puppet that cannot give it (or one too large) leaves the placeholder text alone. A redelivered
 * message downloads again, and the copy no message takes is pruned with other orphans.
 */
async function download(
  deps: { db: Db; files: AttachmentStore },
  workspaceId: string,
  from: Parameters<typeof resolveContact>[2],
  file: () => Promise<WechatyFile>,
): Promise<string | undefined> {
  try {
    const { name, contentType, bytes } = await file();
    const { contactId } = await deps.db.transaction((tx) => resolveContact(tx, workspaceId, from));
    const stored = await deps.files.saveStream(
      deps.db,
      workspaceId,
      { contactId },
      { name: name || "file", contentType },
      (async function* () {
        yield bytes;
      })(),
      MAX_ATTACHMENT_BYTES,
    );
    return stored.id;
  } catch (err) {
    log.warn("wechaty: media not downloaded, the placeholder stays", { err: String(err) });
    return undefined;
  }
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
