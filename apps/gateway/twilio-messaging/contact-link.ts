import { and, eq } from "drizzle-orm";
import type { Identity } from "../../../conversations/channel.ts";
import { announceContactUpdated, resolveContact } from "../../../conversations/contact.ts";
import { withEvents, type Core } from "../../../conversations/transaction.ts";
import type { Executor, Tx } from "../../../db/connect.ts";
import { contactIdentities, contacts, type IdentityKind } from "../../../db/schema/index.ts";

/**
 * A WhatsApp user is a phone number: a customer already known by that number (an SMS, a call) is the
 * same person. Their first WhatsApp message adds the "whatsapp" identity to that
 * contact, so it lands in their history instead of a new contact. The identities stay apart (opting out
 * of WhatsApp leaves SMS alone). Only a phone identity a channel proved counts, not one typed by an agent
 * or a visitor (unverified): someone else's typed number must not pull this person's messages in.
 */
export async function linkToPhoneContact(core: Core, workspaceId: string, number: string) {
  // The common case, a WhatsApp user already known, costs one read.
  const [known] = await identityOf(core.db, workspaceId, "whatsapp", number);
  if (known) return;
  await withEvents(core, async (tx, events) => {
    const linked = await addToPhoneContact(tx, workspaceId, number);
    if (!linked) return;
    const [contact] = await tx.select().from(contacts).where(eq(contacts.id, linked));
    if (contact) await announceContactUpdated(events, contact);
  });
}

/** The contact behind the sender, created if new (the owner a message's files are stored for). */
export async function contactOfSender(core: Core, workspaceId: string, from: Identity) {
  return core.db.transaction(async (tx) => (await resolveContact(tx, workspaceId, from)).contactId);
}

/** The contact a new WhatsApp identity was added to, or undefined (already known, or no phone contact). */
async function addToPhoneContact(tx: Tx, workspaceId: string, number: string) {
  const [known] = await identityOf(tx, workspaceId, "whatsapp", number);
  if (known) return undefined;
  const [phone] = await identityOf(tx, workspaceId, "phone", number);
  if (!phone?.verified) return undefined;
  const [contact] = await tx
    .select({ mergedIntoId: contacts.mergedIntoId })
    .from(contacts)
    .where(eq(contacts.id, phone.contactId));
  if (!contact || contact.mergedIntoId) return undefined;
  const [added] = await tx
    .insert(contactIdentities)
    .values({ workspaceId, contactId: phone.contactId, kind: "whatsapp", value: number, verified: true })
    // A concurrent first message stored it already: that one's contact stands.
    .onConflictDoNothing()
    .returning({ contactId: contactIdentities.contactId });
  return added?.contactId;
}

export function identityOf(tx: Executor, workspaceId: string, kind: IdentityKind, value: string) {
  return tx
    .select({
      id: contactIdentities.id,
      contactId: contactIdentities.contactId,
      verified: contactIdentities.verified,
      optedOutAt: contactIdentities.optedOutAt,
    })
    .from(contactIdentities)
    .where(
      and(
        eq(contactIdentities.workspaceId, workspaceId),
        eq(contactIdentities.kind, kind),
        eq(contactIdentities.value, value),
      ),
    );
}

/**
 * Records a STOP (opted out) or START (opted in) on the identity, in the caller's transaction: nothing
 * is sent to an opted-out identity until it opts in again. Returns the contact when it changed.
 */
export async function setConsent(
  tx: Tx,
  workspaceId: string,
  identity: { kind: IdentityKind; value: string },
  change: "opted_out" | "opted_in",
) {
  const [row] = await tx
    .update(contactIdentities)
    .set({ optedOutAt: change === "opted_out" ? new Date() : null })
    .where(
      and(
        eq(contactIdentities.workspaceId, workspaceId),
        eq(contactIdentities.kind, identity.kind),
        eq(contactIdentities.value, identity.value),
      ),
    )
    .returning({ contactId: contactIdentities.contactId });
  return row?.contactId;
}

/** Tells open views of the contact (and outgoing webhooks) that one of its identities changed. */
export async function announceContact(core: Core, workspaceId: string, contactId: string) {
  await withEvents(core, async (tx, events) => {
    const [contact] = await tx
      .select()
      .from(contacts)
      .where(and(eq(contacts.workspaceId, workspaceId), eq(contacts.id, contactId)));
    if (contact) await announceContactUpdated(events, contact);
  });
}
