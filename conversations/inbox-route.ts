import { and, eq, gt, isNotNull, isNull, lt, ne } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { inboxRoutes, type Channel, type InboxRoute, type RouteKind } from "../db/schema/index.ts";
import { sha256Hex } from "../platform/crypto.ts";
import { Conflict } from "../platform/errors.ts";

/**
 * Routing keys: the addresses and numbers from outside that pick an inbox. Each is claimed by one
 * inbox in the whole installation (the table's primary key decides between concurrent claims) and
 * carries mail or calls only once its owner is proven.
 */

/** One key an inbox's settings claim, with the request field that named it (for a 409). */
export type RouteKey = { kind: RouteKind; key: string; field: string };

/** An unproven claim holds its key this long; after that another workspace may claim it (squatting). */
export const UNVERIFIED_CLAIM_DAYS = 7;
/** How long a mailed verification code counts. */
export const VERIFICATION_CODE_HOURS = 24;
/** The plus tag a verification mail is addressed with: `support+verify-<code>@acme.test`. */
export const VERIFY_TAG = "verify-";

/**
 * The keys an inbox's settings claim: an email inbox's address and aliases, a voice inbox's number, an
 * SMS or WhatsApp inbox's account and number, a Slack inbox's team.
 */
export function routeKeysOf(channel: Channel, settings: Record<string, unknown>): RouteKey[] {
  const keys: RouteKey[] = [];
  const add = (kind: RouteKind, key: unknown, field: string) => {
    if (typeof key === "string") keys.push({ kind, key: key.toLowerCase(), field });
  };
  if (channel === "email") {
    add("email", settings.address, "email.address");
    (Array.isArray(settings.aliases) ? settings.aliases : []).forEach((a, i) => add("email", a, `email.aliases.${i}`));
  }
  if (channel === "voice") add(channel, settings.phoneNumber, "phoneNumber");
  // Messaging numbers are keyed with their Twilio account: Twilio's WhatsApp sandbox number is shared
  // by every account, and a webhook names its AccountSid, whose token must then sign it.
  if ((channel === "sms" || channel === "whatsapp") && typeof settings.accountSid === "string")
    add(
      channel,
      typeof settings.phoneNumber === "string" ? `${settings.accountSid}:${settings.phoneNumber}` : undefined,
      "phoneNumber",
    );
  // A Slack inbox is its workspace (team): every event names the team it comes from.
  if (channel === "slack") add("slack_team", settings.teamId, "teamId");
  const seen = new Set<string>();
  return keys.filter((k) => !seen.has(`${k.kind}:${k.key}`) && seen.add(`${k.kind}:${k.key}`));
}

/**
 * Makes `keys` the inbox's routing keys: keys it no longer names are released, keys it keeps stay as
 * proven as they were, new ones are claimed (`verified` only when the caller proved the owner). A key
 * another inbox holds — in any workspace — is a 409 naming the field. Run it in the transaction that
 * saves the settings, so a refused claim saves nothing.
 */
export async function claimRoutes(
  db: Executor,
  inbox: { id: string; workspaceId: string },
  keys: RouteKey[],
  options: { verified: boolean },
) {
  const id = (k: { kind: string; key: string }) => `${k.kind}:${k.key}`;
  const current = await db.select().from(inboxRoutes).where(eq(inboxRoutes.inboxId, inbox.id));
  const wanted = new Set(keys.map(id));
  for (const r of current.filter((r) => !wanted.has(id(r)))) {
    const same = and(eq(inboxRoutes.kind, r.kind), eq(inboxRoutes.key, r.key), eq(inboxRoutes.inboxId, inbox.id));
    await db.delete(inboxRoutes).where(same);
  }
  const held = new Set(current.map(id));
  const fresh = keys.filter((k) => !held.has(id(k)));
  const verifiedAt = options.verified ? new Date() : null;
  for (const k of fresh) {
    // A claim nobody proved within the window no longer blocks the key's real owner.
    const stale = new Date(Date.now() - UNVERIFIED_CLAIM_DAYS * 86_400_000);
    await db
      .delete(inboxRoutes)
      .where(
        and(
          eq(inboxRoutes.kind, k.kind),
          eq(inboxRoutes.key, k.key),
          isNull(inboxRoutes.verifiedAt),
          lt(inboxRoutes.createdAt, stale),
          ne(inboxRoutes.inboxId, inbox.id),
        ),
      );
    const [claimed] = await db
      .insert(inboxRoutes)
      .values({ kind: k.kind, key: k.key, inboxId: inbox.id, workspaceId: inbox.workspaceId, verifiedAt })
      .onConflictDoNothing()
      .returning({ key: inboxRoutes.key });
    if (!claimed) throw new Conflict(`${k.key} is already used by another inbox`, k.field);
  }
  if (options.verified && current.some((r) => wanted.has(id(r)) && !r.verifiedAt)) await verifyRoutes(db, inbox.id);
}

/** Marks every key of the inbox proven: the caller checked the owner (Twilio's number list, a seed). */
export async function verifyRoutes(db: Executor, inboxId: string) {
  await db
    .update(inboxRoutes)
    .set({ verifiedAt: new Date(), codeHash: null, codeExpiresAt: null })
    .where(and(eq(inboxRoutes.inboxId, inboxId), isNull(inboxRoutes.verifiedAt)));
}

/** An inbox's keys and whether each is proven, for the admin screen. */
export async function routesOf(db: Executor, workspaceId: string, inboxId: string) {
  const rows = await db
    .select({ kind: inboxRoutes.kind, key: inboxRoutes.key, verifiedAt: inboxRoutes.verifiedAt })
    .from(inboxRoutes)
    .where(and(eq(inboxRoutes.workspaceId, workspaceId), eq(inboxRoutes.inboxId, inboxId)));
  return rows.map((r) => ({ kind: r.kind, key: r.key, verified: r.verifiedAt !== null }));
}

/**
 * New one-time codes for the inbox's unproven email keys (a code replaces the last one sent): the
 * caller mails each to its address. Only a hash is kept.
 */
export async function startEmailVerification(db: Executor, workspaceId: string, inboxId: string) {
  const pending = await db
    .select({ key: inboxRoutes.key })
    .from(inboxRoutes)
    .where(
      and(
        eq(inboxRoutes.workspaceId, workspaceId),
        eq(inboxRoutes.inboxId, inboxId),
        eq(inboxRoutes.kind, "email"),
        isNull(inboxRoutes.verifiedAt),
      ),
    );
  const expires = new Date(Date.now() + VERIFICATION_CODE_HOURS * 3_600_000);
  const codes: { key: string; code: string }[] = [];
  for (const { key } of pending) {
    // Lower-case hex: it survives the lower-casing of a plus-addressed recipient.
    const code = Buffer.from(crypto.getRandomValues(new Uint8Array(6))).toString("hex");
    await db
      .update(inboxRoutes)
      .set({ codeHash: sha256Hex(code), codeExpiresAt: expires })
      .where(and(eq(inboxRoutes.kind, "email"), eq(inboxRoutes.key, key), eq(inboxRoutes.inboxId, inboxId)));
    codes.push({ key, code });
  }
  return codes;
}

/**
 * Proves an email key with the code mailed to it (typed by an admin, or arriving through SMTP-in as
 * `+verify-<code>`). `workspaceId` limits it to one workspace's keys when an admin enters it.
 */
export async function confirmEmailRoute(db: Executor, key: string, code: string, workspaceId?: string) {
  const [row] = await db
    .update(inboxRoutes)
    .set({ verifiedAt: new Date(), codeHash: null, codeExpiresAt: null })
    .where(
      and(
        eq(inboxRoutes.kind, "email"),
        eq(inboxRoutes.key, key.toLowerCase()),
        isNull(inboxRoutes.verifiedAt),
        eq(inboxRoutes.codeHash, sha256Hex(code.trim().toLowerCase())),
        gt(inboxRoutes.codeExpiresAt, new Date()),
        workspaceId ? eq(inboxRoutes.workspaceId, workspaceId) : undefined,
      ),
    )
    .returning({ key: inboxRoutes.key });
  return !!row;
}

type ProvenRoute = Pick<InboxRoute, "inboxId" | "workspaceId">;

/** The proven route for a key, or undefined: unproven claims receive nothing. */
export async function provenRoute(db: Executor, kind: RouteKind, key: string): Promise<ProvenRoute | undefined> {
  const [row] = await db
    .select({ inboxId: inboxRoutes.inboxId, workspaceId: inboxRoutes.workspaceId })
    .from(inboxRoutes)
    .where(and(eq(inboxRoutes.kind, kind), eq(inboxRoutes.key, key.toLowerCase()), isNotNull(inboxRoutes.verifiedAt)));
  return row;
}
