import { and, asc, desc, eq, gt, inArray, lt } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { attachments, timelineItems, type Attachment, type TimelineItem } from "../db/schema/index.ts";

export type AttachmentView = { id: string; name: string; contentType: string; size: number; url: string };

/** The one shape a timeline item has in the API, in realtime events and in the widget. */
export type TimelineView = {
  id: string;
  seq: number;
  conversationId: string;
  type: TimelineItem["type"];
  direction: TimelineItem["direction"];
  channel: TimelineItem["channel"];
  inboxId: string | null;
  /** The provider's id of the message (inbound), or of the delivery (outbound once sent). */
  externalId: string | null;
  private: boolean;
  text: string | null;
  html: string | null;
  sender: { type: TimelineItem["senderType"]; id: string | null; name: string | null };
  eventType: string | null;
  data: Record<string, unknown>;
  status: TimelineItem["deliveryStatus"];
  error: string | null;
  attachments: AttachmentView[];
  createdAt: string;
};

export function attachmentView(a: Pick<Attachment, "id" | "name" | "contentType" | "size">): AttachmentView {
  return { id: a.id, name: a.name, contentType: a.contentType, size: a.size, url: `/files/${a.id}` };
}

export function timelineView(item: TimelineItem, files: AttachmentView[] = []): TimelineView {
  const { senderName, ...data } = item.data as { senderName?: string } & Record<string, unknown>;
  return {
    id: item.id,
    seq: Number(item.seq),
    conversationId: item.conversationId,
    type: item.type,
    direction: item.direction,
    channel: item.channel,
    inboxId: item.inboxId,
    externalId: item.externalId,
    private: item.type === "note",
    text: item.text,
    html: item.html,
    sender: { type: item.senderType, id: item.senderId, name: senderName ?? null },
    eventType: item.eventType,
    data,
    status: item.deliveryStatus,
    error: item.deliveryError,
    attachments: files,
    createdAt: item.createdAt.toISOString(),
  };
}

/** What a customer may see of an item: no notes, no internal event details, no agent ids. */
export function publicView(item: TimelineView) {
  return {
    id: item.id,
    seq: item.seq,
    conversationId: item.conversationId,
    type: item.type,
    direction: item.direction,
    channel: item.channel,
    text: item.text,
    sender: { type: item.sender.type, name: item.sender.name },
    status: item.status,
    attachments: item.attachments,
    createdAt: item.createdAt,
  };
}

export function isPublicItem(item: Pick<TimelineItem, "type">) {
  return item.type === "message";
}

async function withAttachments(db: Executor, items: TimelineItem[]): Promise<TimelineView[]> {
  if (!items.length) return [];
  const files = await db
    .select()
    .from(attachments)
    .where(
      inArray(
        attachments.timelineItemId,
        items.map((i) => i.id),
      ),
    )
    // In the order they were stored (a voice note's playable copy before its original), not the heap's.
    .orderBy(asc(attachments.createdAt), asc(attachments.id));
  return items.map((i) => timelineView(i, files.filter((f) => f.timelineItemId === i.id).map(attachmentView)));
}

export async function loadTimelineItem(db: Executor, id: string) {
  const [item] = await db.select().from(timelineItems).where(eq(timelineItems.id, id));
  return item ? (await withAttachments(db, [item]))[0]! : undefined;
}

/**
 * One page of a conversation's timeline, oldest first. `before` pages back into history (infinite
 * scroll); `after` fetches what is new since a seq. The caller has checked the conversation's access.
 */
export async function timelinePage(
  db: Executor,
  conversationId: string,
  opts: { before?: number; after?: number; limit: number; publicOnly?: boolean },
) {
  const where = and(
    eq(timelineItems.conversationId, conversationId),
    opts.before !== undefined ? lt(timelineItems.seq, opts.before) : undefined,
    opts.after !== undefined ? gt(timelineItems.seq, opts.after) : undefined,
    opts.publicOnly ? eq(timelineItems.type, "message") : undefined,
  );
  // Newest page first when paging back, then flipped, so the page always reads oldest → newest.
  const backwards = opts.after === undefined;
  const rows = await db
    .select()
    .from(timelineItems)
    .where(where)
    .orderBy(backwards ? desc(timelineItems.seq) : asc(timelineItems.seq))
    .limit(opts.limit + 1);
  const more = rows.length > opts.limit;
  const page = rows.slice(0, opts.limit);
  if (backwards) page.reverse();
  const items = await withAttachments(db, page);
  const nextCursor = more && items.length ? String(backwards ? items[0]!.seq : items[items.length - 1]!.seq) : null;
  return { items, nextCursor };
}
