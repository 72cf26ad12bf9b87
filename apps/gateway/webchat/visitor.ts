import { and, eq, gt, isNotNull, isNull, lt, or, sql } from "drizzle-orm";
import { clientIdOf, type VisitorClaims } from "../../../channels/webchat/index.ts";
import { publicView, type TimelineView } from "../../../conversations/timeline.ts";
import type { Executor } from "../../../db/connect.ts";
import { contacts, users, type Inbox } from "../../../db/schema/index.ts";

/**
 * A web chat visitor as the widget's routes and socket see them: the contact their token names,
 * what they typed about themselves, their view of an item, and the inbox's public settings.
 */

/** An item as the visitor sees it, with the widget's own id on the visitor's messages. */
export function visitorView(item: TimelineView) {
  return { ...publicView(item), clientId: clientIdOf(item) };
}

const ONLINE_WINDOW_MS = 60_000;

/** Public, per-inbox widget settings plus whether an agent is online (any node: last_seen_at). */
export async function inboxInfo(db: Executor, inbox: Inbox, locale: string | undefined) {
  const [online] = await db
    .select({ id: users.id })
    .from(users)
    .where(
      and(
        eq(users.workspaceId, inbox.workspaceId),
        isNotNull(users.lastSeenAt),
        gt(users.lastSeenAt, new Date(Date.now() - ONLINE_WINDOW_MS)),
      ),
    )
    .limit(1);
  const s = inbox.settings;
  return {
    name: inbox.name,
    preChatForm: s.preChatForm === true,
    agentsOnline: !!online,
    greeting:
      (locale?.toLowerCase().startsWith("zh") ? s.greeting?.["zh-CN"] : s.greeting?.en) ?? s.greeting?.en ?? null,
    color: typeof s.color === "string" ? s.color : null,
    locale: typeof s.locale === "string" ? s.locale : null,
    // Which way the call button goes: Twilio's Voice SDK to the inbox's phone line, or WebRTC.
    calls: s.callLine ? ("phone" as const) : ("browser" as const),
  };
}

/**
 * The contact a visitor token names, while the token is good: a token is issued for one contact and
 * never follows a merge. Once its contact was merged into another (the visitor signed in, or a
 * supervisor found them to be a known customer) the token is retired, because following the merge
 * would hand an unproven browser the other contact's whole history and let it write as them.
 */
export async function visitorContact(db: Executor, claims: VisitorClaims) {
  const [contact] = await db
    .select({ id: contacts.id })
    .from(contacts)
    .where(
      and(
        eq(contacts.id, claims.c),
        eq(contacts.workspaceId, claims.w),
        isNull(contacts.mergedIntoId),
        // An agent ended this contact's sessions after the token was issued (visitor-tokens.ts).
        or(isNull(contacts.visitorTokensRevokedAt), lt(contacts.visitorTokensRevokedAt, new Date(claims.iat))),
      ),
    );
  return contact;
}

/** Unverified details a visitor typed: kept as contact attributes, never as identities. */
export async function rememberVisitorDetails(db: Executor, contactId: string, name?: string, email?: string) {
  await db
    .update(contacts)
    .set({
      ...(name ? { name: sql`coalesce(${contacts.name}, ${name})` } : {}),
      ...(email ? { attributes: sql`${contacts.attributes} || ${JSON.stringify({ email })}::jsonb` } : {}),
      updatedAt: new Date(),
    })
    .where(eq(contacts.id, contactId));
}
