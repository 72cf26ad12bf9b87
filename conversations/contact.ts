import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import type { Executor, Tx } from "../db/connect.ts";
import { contactIdentities, contacts, conversations } from "../db/schema/index.ts";
import { Invalid, NotFound } from "../platform/errors.ts";
import type { Identity } from "./channel.ts";
import { withEvents, type Core } from "./transaction.ts";

/** Identity values compare case-insensitively where the channel does (email), and without spaces. */
export function normalizeIdentity(identity: Identity): Identity {
  const value = identity.value.trim();
  if (identity.kind === "email") return { ...identity, value: value.toLowerCase() };
  if (identity.kind === "phone") return { ...identity, value: value.replace(/[\s().-]/g, "") };
  return { ...identity, value };
}

/**
 * The contact behind an identity, created if new. Two first messages from one new person racing
 * each other end with one contact: the identity's unique key decides, and the loser's contact row is
 * removed in its own transaction.
 */
export async function resolveContact(tx: Tx, workspaceId: string, raw: Identity): Promise<{ contactId: string; created: boolean }> {
  const identity = normalizeIdentity(raw);
  const found = await findIdentity(tx, workspaceId, identity);
  if (found) return { contactId: found, created: false };
  const [contact] = await tx
    .insert(contacts)
    .values({ workspaceId, name: identity.displayName ?? null })
    .returning({ id: contacts.id });
  const [inserted] = await tx
    .insert(contactIdentities)
    .values({ workspaceId, contactId: contact!.id, kind: identity.kind, value: identity.value, verified: identity.verified ?? true })
    .onConflictDoNothing()
    .returning({ contactId: contactIdentities.contactId });
  if (inserted) return { contactId: inserted.contactId, created: true };
  await tx.delete(contacts).where(eq(contacts.id, contact!.id));
  return { contactId: (await findIdentity(tx, workspaceId, identity))!, created: false };
}

async function findIdentity(db: Executor, workspaceId: string, identity: Identity) {
  const [row] = await db
    .select({ contactId: contactIdentities.contactId })
    .from(contactIdentities)
    .where(
      and(
        eq(contactIdentities.workspaceId, workspaceId),
        eq(contactIdentities.kind, identity.kind),
        eq(contactIdentities.value, identity.value),
      ),
    );
  return row?.contactId;
}

export async function contactProfile(db: Executor, workspaceId: string, contactId: string) {
  const [contact] = await db
    .select()
    .from(contacts)
    .where(and(eq(contacts.workspaceId, workspaceId), eq(contacts.id, contactId)));
  if (!contact) throw new NotFound("Contact");
  const [identities, history] = await Promise.all([
    db
      .select({ id: contactIdentities.id, kind: contactIdentities.kind, value: contactIdentities.value, verified: contactIdentities.verified })
      .from(contactIdentities)
      .where(and(eq(contactIdentities.workspaceId, workspaceId), eq(contactIdentities.contactId, contactId))),
    db
      .select({
        id: conversations.id,
        status: conversations.status,
        channel: conversations.channel,
        lastMessageText: conversations.lastMessageText,
        lastActivityAt: conversations.lastActivityAt,
        createdAt: conversations.createdAt,
      })
      .from(conversations)
      .where(and(eq(conversations.workspaceId, workspaceId), eq(conversations.contactId, contactId)))
      .orderBy(desc(conversations.lastActivityAt)),
  ]);
  return {
    id: contact.id,
    name: contact.name,
    attributes: contact.attributes,
    mergedIntoId: contact.mergedIntoId,
    createdAt: contact.createdAt,
    identities,
    conversations: history,
  };
}

export async function updateContact(
  core: Core,
  workspaceId: string,
  contactId: string,
  patch: { name?: string; attributes?: Record<string, unknown> },
) {
  return withEvents(core, async (tx, events) => {
    const [row] = await tx
      .update(contacts)
      .set({
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.attributes !== undefined ? { attributes: sql`${contacts.attributes} || ${JSON.stringify(patch.attributes)}::jsonb` } : {}),
        updatedAt: new Date(),
      })
      .where(and(eq(contacts.workspaceId, workspaceId), eq(contacts.id, contactId)))
      .returning();
    if (!row) throw new NotFound("Contact");
    await events.append(workspaceId, { type: "contact.updated", payload: { contact: { id: row.id, name: row.name, attributes: row.attributes } } });
    return row;
  });
}

/**
 * Two contacts found to be one person: identities and conversations move to `keepId`; the merged
 * contact stays as a pointer (merged_into_id) so old references still resolve.
 */
export async function mergeContacts(core: Core, workspaceId: string, keepId: string, mergeId: string) {
  if (keepId === mergeId) throw new Invalid("Cannot merge a contact into itself", "mergeId");
  return withEvents(core, async (tx, events) => {
    const pair = await tx
      .select()
      .from(contacts)
      .where(and(eq(contacts.workspaceId, workspaceId), inArray(contacts.id, [keepId, mergeId])))
      // By id, the order batched ingest locks contacts in, so the two cannot deadlock.
      .orderBy(asc(contacts.id))
      .for("update");
    const keep = pair.find((c) => c.id === keepId);
    const merged = pair.find((c) => c.id === mergeId);
    if (!keep) throw new NotFound("Contact", "contactId");
    if (!merged || merged.mergedIntoId) throw new NotFound("Contact", "mergeId");
    await tx.update(contactIdentities).set({ contactId: keepId }).where(eq(contactIdentities.contactId, mergeId));
    await tx.update(conversations).set({ contactId: keepId }).where(eq(conversations.contactId, mergeId));
    await tx
      .update(contacts)
      .set({ name: keep.name ?? merged.name, attributes: { ...merged.attributes, ...keep.attributes }, updatedAt: new Date() })
      .where(eq(contacts.id, keepId));
    await tx.update(contacts).set({ mergedIntoId: keepId, updatedAt: new Date() }).where(eq(contacts.id, mergeId));
    await events.append(workspaceId, { type: "contact.merged", payload: { contactId: keepId, mergedId: mergeId } });
    return contactProfile(tx, workspaceId, keepId);
  });
}
