import { and, asc, count, eq, inArray } from "drizzle-orm";
import { contactIdentities, contactNotes, contacts, conversations, type IdentityKind } from "../db/schema/index.ts";
import { Conflict, Invalid, NotFound } from "../platform/errors.ts";
import { announceContactUpdated, contactProfile, lockContact, normalizeIdentity } from "./contact.ts";
import { withEvents, type Core } from "./transaction.ts";

/**
 * An identity an agent adds by hand (a phone number the customer gave in chat): later messages from
 * it join this contact. One identity belongs to one contact, so taking another contact's is refused:
 * the two are one person and should be merged.
 */
export async function addIdentity(
  core: Core,
  workspaceId: string,
  contactId: string,
  raw: { kind: IdentityKind; value: string },
) {
  // Typed by an agent, not proved by a channel or a signature.
  const identity = normalizeIdentity({ ...raw, verified: false });
  if (!identity.value) throw new Invalid("value must not be empty", "value");
  return withEvents(core, async (tx, events) => {
    const contact = await lockContact(tx, workspaceId, contactId);
    const [added] = await tx
      .insert(contactIdentities)
      .values({ workspaceId, contactId, kind: identity.kind, value: identity.value, verified: false })
      .onConflictDoNothing()
      .returning({ id: contactIdentities.id, kind: contactIdentities.kind, value: contactIdentities.value });
    if (added) {
      await announceContactUpdated(events, contact);
      return { identity: added, created: true };
    }
    const [owner] = await tx
      .select({
        id: contactIdentities.id,
        contactId: contactIdentities.contactId,
        kind: contactIdentities.kind,
        value: contactIdentities.value,
      })
      .from(contactIdentities)
      .where(
        and(
          eq(contactIdentities.workspaceId, workspaceId),
          eq(contactIdentities.kind, identity.kind),
          eq(contactIdentities.value, identity.value),
        ),
      );
    if (owner?.contactId === contactId)
      return { identity: { id: owner.id, kind: owner.kind, value: owner.value }, created: false };
    throw new Conflict(
      `This ${identity.kind} belongs to another contact (${owner?.contactId}); merge the two contacts instead`,
      "value",
    );
  });
}

/** Removes an identity; a contact keeps at least one, or nothing could ever reach it again. */
export async function removeIdentity(core: Core, workspaceId: string, contactId: string, identityId: string) {
  return withEvents(core, async (tx, events) => {
    const contact = await lockContact(tx, workspaceId, contactId);
    const [[identity], [held]] = await Promise.all([
      tx
        .select({ id: contactIdentities.id })
        .from(contactIdentities)
        .where(
          and(
            eq(contactIdentities.workspaceId, workspaceId),
            eq(contactIdentities.contactId, contactId),
            eq(contactIdentities.id, identityId),
          ),
        ),
      tx.select({ n: count() }).from(contactIdentities).where(eq(contactIdentities.contactId, contactId)),
    ]);
    if (!identity) throw new NotFound("Identity", "identityId");
    if ((held?.n ?? 0) <= 1) throw new Invalid("A contact keeps at least one identity", "identityId");
    await tx.delete(contactIdentities).where(eq(contactIdentities.id, identityId));
    await announceContactUpdated(events, contact);
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
    await tx.update(contactNotes).set({ contactId: keepId }).where(eq(contactNotes.contactId, mergeId));
    await tx
      .update(contacts)
      .set({
        name: keep.name ?? merged.name,
        attributes: { ...merged.attributes, ...keep.attributes },
        updatedAt: new Date(),
      })
      .where(eq(contacts.id, keepId));
    await tx.update(contacts).set({ mergedIntoId: keepId, updatedAt: new Date() }).where(eq(contacts.id, mergeId));
    await events.append(workspaceId, { type: "contact.merged", payload: { contactId: keepId, mergedId: mergeId } });
    return contactProfile(tx, { workspaceId }, keepId);
  });
}
