import { and, eq, gt, isNotNull, isNull, lt, min, sum, type SQL } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { attachments } from "../db/schema/index.ts";
import { TooManyRequests } from "../platform/errors.ts";

const WINDOW_MS = 86_400_000;
const megabytes = (bytes: number) => Number((bytes / 1024 / 1024).toFixed(1));

export type UploadLimits = { visitorBytes: number; ipBytes: number; workspaceBytes: number };

/**
 * What a visitor's upload may still take: `bytes`, held until `release` (after the row is written);
 * `limitedBy` names the quota that allowed less than was asked, if one did.
 */
export type UploadAllowance = { bytes: number; limitedBy: string | undefined; release(): void };

/**
 * Anonymous upload quotas over a sliding 24 hours: per visitor (contact), per client IP and per
 * workspace, counted from the stored uploads (so every node sees the same totals) plus the uploads
 * still streaming on this node. A starting upload reserves what it may take, so forty uploads at
 * once cannot each see an empty quota; the reservation goes when its row is written.
 */
export class UploadQuota {
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly limits: UploadLimits) {}

  /** Reserves up to `wanted` bytes, or refuses with a 429 naming the quota that is used up. */
  async reserve(
    db: Executor,
    who: { workspaceId: string; contactId: string; ip: string },
    wanted: number,
    now = new Date(),
  ): Promise<UploadAllowance> {
    const since = new Date(now.getTime() - WINDOW_MS);
    // Visitors' uploads only: agents' files are not anonymous.
    const visitors = (own: SQL) =>
      and(own, isNotNull(attachments.uploaderIp), isNull(attachments.userId), gt(attachments.createdAt, since));
    const { visitorBytes, ipBytes, workspaceBytes } = this.limits;
    const quotas: { key: string; limit: number; what: string; where: SQL | undefined }[] = [
      {
        key: `visitor:${who.contactId}`,
        limit: visitorBytes,
        what: "per visitor",
        where: visitors(eq(attachments.contactId, who.contactId)),
      },
      { key: `ip:${who.ip}`, limit: ipBytes, what: "per address", where: visitors(eq(attachments.uploaderIp, who.ip)) },
      {
        key: `workspace:${who.workspaceId}`,
        limit: workspaceBytes,
        what: "for this workspace",
        where: visitors(eq(attachments.workspaceId, who.workspaceId)),
      },
    ];
    let bytes = wanted;
    let limitedBy: string | undefined;
    for (const q of quotas) {
      const [used] = await db
        .select({ bytes: sum(attachments.size), oldest: min(attachments.createdAt) })
        .from(attachments)
        .where(q.where);
      const left = q.limit - Number(used?.bytes ?? 0) - (this.inFlight.get(q.key) ?? 0);
      if (left <= 0) {
        // The quota frees up as the oldest counted upload leaves the window (or a running one ends).
        const oldest = used?.oldest ? new Date(used.oldest).getTime() : now.getTime();
        const retryAfter = Math.max(1, Math.ceil((oldest + WINDOW_MS - now.getTime()) / 1000));
        const message = `Upload quota ${q.what} reached (${megabytes(q.limit)} MB a day)`;
        throw new TooManyRequests(retryAfter, message, "file");
      }
      if (left < bytes) {
        bytes = left;
        limitedBy = `Upload quota ${q.what} reached (${megabytes(q.limit)} MB a day): this file does not fit`;
      }
    }
    for (const q of quotas) this.inFlight.set(q.key, (this.inFlight.get(q.key) ?? 0) + bytes);
    let released = false;
    return {
      bytes,
      limitedBy,
      release: () => {
        if (released) return;
        released = true;
        for (const q of quotas) {
          const rest = (this.inFlight.get(q.key) ?? 0) - bytes;
          if (rest > 0) this.inFlight.set(q.key, rest);
          else this.inFlight.delete(q.key);
        }
      },
    };
  }
}

/** Uploads over HTTP that no message took within `olderThan`: what the orphan sweep deletes. */
export const orphanedUploads = (olderThan: Date) =>
  and(isNotNull(attachments.uploaderIp), isNull(attachments.timelineItemId), lt(attachments.createdAt, olderThan));
