import { and, eq, inArray, sql } from "drizzle-orm";
import { openSlackFile } from "../../../channels/slack/files.ts";
import type { SlackInbound } from "../../../channels/slack/index.ts";
import { MAX_ATTACHMENT_BYTES } from "../../../conversations/attachment.ts";
import type { Identity, NormalizedInbound } from "../../../conversations/channel.ts";
import { resolveContact } from "../../../conversations/contact.ts";
import { findDelivered, ingestInbound, type Placement } from "../../../conversations/ingest.ts";
import type { Tx } from "../../../db/connect.ts";
import { timelineItems, type Inbox } from "../../../db/schema/index.ts";
import { log } from "../../../platform/log.ts";
import type { Runtime } from "../../server/runtime.ts";

/** A reply whose thread's first message is younger than this waits for it (Slack may deliver them out of order). */
const ROOT_GRACE_S = 60;
const ROOT_WAIT_MS = 1500;

/** A reply arrived before its thread's first message: answered 500 so that Slack delivers it again later. */
export class RootNotYetStored extends Error {}

export type SlackInboxFacts = { inbox: Inbox; botToken: string; apiBase: string };

/**
 * Stores one customer message of a Slack inbox: a top-level message starts a conversation, a reply in
 * its thread joins that conversation (one conversation per channel + thread_ts). Slack's retries and a
 * concurrent delivery of the same message store it once ((inbox, `<channel>:<ts>`) is unique), and a
 * retry downloads no file again.
 */
export async function ingestSlackMessage(
  rt: Runtime,
  facts: SlackInboxFacts,
  message: SlackInbound,
  nameOf: (userId: string) => Promise<string | undefined>,
) {
  const { inbox } = facts;
  const workspaceId = inbox.workspaceId;
  // One look at both the message (a retry: answered as stored, no file fetched again) and its thread's start.
  const known = await conversationsOf(
    rt,
    inbox,
    message.topLevel ? [message.externalId] : [message.externalId, message.rootKey],
  );
  if (known.has(message.externalId))
    return (await findDelivered(rt.core.db, workspaceId, inbox.id, message.externalId))!;
  const rootConversation = message.topLevel
    ? undefined
    : (known.get(message.rootKey) ?? (await awaitRoot(rt, inbox, message)));

  const displayName = await nameOf(message.userId);
  const from: Identity = { kind: "slack", value: message.identity, ...(displayName ? { displayName } : {}) };
  const { ids, refused } = await downloadFiles(rt, facts, message, from);
  let text = message.text;
  if (!text && !ids.length)
    text = refused.length
      ? refused.map((f) => `[File not received: ${f.name} (${f.reason})]`).join("\n")
      : "[Unsupported Slack message: no text or file]";
  const inbound: NormalizedInbound = {
    channel: "slack",
    channelAccountId: inbox.id,
    externalId: message.externalId,
    from,
    threadKey: message.rootKey,
    kind: ids.length ? "media" : "text",
    text,
    attachments: ids,
    sentAt: message.sentAt,
    data: {
      slack: { channel: message.channel, user: message.userId },
      ...(refused.length ? { filesNotReceived: refused } : {}),
      ...(message.truncated ? { truncated: true } : {}),
      ...(!message.text && !ids.length && !refused.length ? { unsupported: true } : {}),
    },
  };
  // A new thread, or a reply whose thread's first message is stored: placed without looking further,
  // so the message joins the batched ingest (one transaction for many). A reply to a thread this inbox
  // never saw the start of finds its conversation by its earlier replies, under the thread's lock.
  const placement = message.topLevel
    ? ({ newConversation: true } as const)
    : rootConversation
      ? { conversationId: rootConversation }
      : undefined;
  let result: Awaited<ReturnType<typeof ingestInbound>>;
  try {
    result = placement
      ? await rt.inbound.submit(workspaceId, inbound, placement)
      : await ingestInbound(rt.core, workspaceId, inbound, {
          checked: true,
          place: (tx) => placeInThread(tx, inbox, message),
        });
  } catch (err) {
    await rt.files.discard(rt.core.db, workspaceId, ids);
    throw err;
  }
  // Another delivery of the same message (a retry on another node) stored it first, with its own files.
  if (result.duplicate) await rt.files.discard(rt.core.db, workspaceId, ids);
  return result;
}

/** The conversation of each of these messages of the inbox that is stored, by its `<channel>:<ts>`. */
async function conversationsOf(rt: Runtime, inbox: Inbox, externalIds: string[]) {
  const rows = await rt.core.db
    .select({ externalId: timelineItems.externalId, conversationId: timelineItems.conversationId })
    .from(timelineItems)
    .where(
      and(
        eq(timelineItems.workspaceId, inbox.workspaceId),
        eq(timelineItems.inboxId, inbox.id),
        inArray(timelineItems.externalId, externalIds),
      ),
    );
  return new Map(rows.map((r) => [r.externalId!, r.conversationId]));
}

/**
 * A reply's conversation is its thread's: the one holding the thread's first message, or (a thread on a
 * message this inbox never stored, e.g. posted before the app joined) the one its earlier replies
 * opened. Replies of one thread are serialized by a lock on the thread, so two of them racing open one
 * conversation.
 */
async function placeInThread(tx: Tx, inbox: Inbox, message: SlackInbound): Promise<Placement> {
  if (message.topLevel) return { newConversation: true };
  await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${`slack-thread:${inbox.id}:${message.rootKey}`}))`);
  const [root] = await tx
    .select({ conversationId: timelineItems.conversationId })
    .from(timelineItems)
    .where(and(eq(timelineItems.inboxId, inbox.id), eq(timelineItems.externalId, message.rootKey)));
  if (root) return { conversationId: root.conversationId };
  const [sibling] = await tx
    .select({ conversationId: timelineItems.conversationId })
    .from(timelineItems)
    .where(
      and(
        eq(timelineItems.workspaceId, inbox.workspaceId),
        eq(timelineItems.inboxId, inbox.id),
        sql`${timelineItems.data}->>'threadKey' = ${message.rootKey}`,
      ),
    )
    .limit(1);
  return sibling ? { conversationId: sibling.conversationId } : { newConversation: true };
}

/**
 * Slack sends events concurrently, so a quick reply can arrive before its thread's first message is
 * stored. For a thread started within the last minute the reply waits briefly for it, then asks Slack
 * to deliver it again (a 500), rather than opening a second conversation for the same thread. The
 * conversation of the thread's first message, once stored (undefined for an older thread this inbox
 * never stored).
 */
async function awaitRoot(rt: Runtime, inbox: Inbox, message: SlackInbound) {
  const rootTs = Number(message.rootKey.slice(message.rootKey.indexOf(":") + 1));
  const recent = Number.isFinite(rootTs) && Date.now() / 1000 - rootTs <= ROOT_GRACE_S;
  const end = Date.now() + ROOT_WAIT_MS;
  for (;;) {
    const root = (await conversationsOf(rt, inbox, [message.rootKey])).get(message.rootKey);
    if (root || !recent) return root;
    if (Date.now() > end)
      throw new RootNotYetStored(`The first message of thread ${message.rootKey} is not stored yet`);
    await Bun.sleep(100);
  }
}

/**
 * The message's files, downloaded with the bot token into attachments owned by the writer (before the
 * message is stored, so it arrives whole). A file that cannot be fetched is named on the message with
 * the reason instead.
 */
async function downloadFiles(rt: Runtime, facts: SlackInboxFacts, message: SlackInbound, from: Identity) {
  const ids: string[] = [];
  const refused: { name: string; reason: string }[] = [];
  if (!message.files.length) return { ids, refused };
  const workspaceId = facts.inbox.workspaceId;
  const { contactId } = await rt.core.db.transaction((tx) => resolveContact(tx, workspaceId, from));
  for (const file of message.files.slice(0, 10)) {
    const opened = await openSlackFile(file, {
      token: facts.botToken,
      apiBase: facts.apiBase,
      maxBytes: MAX_ATTACHMENT_BYTES,
    });
    if (!opened.ok) {
      refused.push({ name: opened.name, reason: opened.reason });
      continue;
    }
    try {
      const saved = await rt.files.saveStream(
        rt.core.db,
        workspaceId,
        { contactId },
        { name: opened.name, contentType: opened.contentType },
        opened.body,
        MAX_ATTACHMENT_BYTES,
      );
      ids.push(saved.id);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      log.warn("slack: a file could not be stored", { inboxId: facts.inbox.id, file: opened.name, reason });
      refused.push({ name: opened.name, reason });
    }
  }
  return { ids, refused };
}
