import { and, asc, desc, eq, inArray, isNull, or, sql } from "drizzle-orm";
import { rowsOf, type Executor, type Tx } from "../db/connect.ts";
import { contactIdentities, contactNotes, contacts, conversations, users, type Contact } from "../db/schema/index.ts";
import { containsText } from "../db/text-search.ts";
import { Forbidden, Invalid, NotFound } from "../platform/errors.ts";
import { can } from "../platform/permission.ts";
import { visibleConversations, type Actor } from "./actor.ts";
import type { Identity } from "./channel.ts";
import type { EventLog } from "./event.ts";
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
 * each other end with one contact: the identity's unique key decides.
 */
export async function resolveContact(
  tx: Tx,
  workspaceId: string,
  raw: Identity,
): Promise<{ contactId: string; created: boolean }> {
  const { contactOf, created } = await resolveContacts(tx, workspaceId, [raw]);
  const contactId = contactOf.get(identityKey(raw))!;
  return { contactId, created: created.has(contactId) };
}

/**
 * The contacts behind several identities of one kind (the people Cc'd on a mail), created where new,
 * by their normalized value. Each identity keeps its own contact: nothing here ever merges two people.
 */
export async function contactsOfIdentities(tx: Tx, workspaceId: string, raw: Identity[]): Promise<Map<string, string>> {
  if (!raw.length) return new Map();
  if (new Set(raw.map((r) => normalizeIdentity(r).kind)).size !== 1)
    throw new Invalid("Identities of one kind at a time", "identities");
  const { contactOf } = await resolveContacts(tx, workspaceId, raw);
  return new Map(raw.map((r) => [normalizeIdentity(r).value, contactOf.get(identityKey(r))!]));
}

/** An identity's key as stored (normalized): batches look their contacts up by it. */
export function identityKey(raw: Identity) {
  const identity = normalizeIdentity(raw);
  return `${identity.kind}\u0000${identity.value}`;
}

/**
 * `resolveContact` for many identities at once (batched ingest, batched call starts): contact ids
 * by `identityKey`, and which of them this transaction created (nobody else can see those yet).
 */
export async function resolveContacts(tx: Tx, workspaceId: string, identities: Identity[]) {
  const wanted = new Map<string, Identity>();
  for (const raw of identities) {
    const key = identityKey(raw);
    if (!wanted.has(key)) wanted.set(key, normalizeIdentity(raw));
  }
  const lookup = (keys: string[]) =>
    tx
      .select({ kind: contactIdentities.kind, value: contactIdentities.value, contactId: contactIdentities.contactId })
      .from(contactIdentities)
      .where(
        and(
          eq(contactIdentities.workspaceId, workspaceId),
          sql`(${contactIdentities.kind}, ${contactIdentities.value}) IN (VALUES ${sql.join(
            keys.map((k) => wanted.get(k)!).map((w) => sql`(${w.kind}::identity_kind, ${w.value})`),
            sql`, `,
          )})`,
        ),
      );
  const contactOf = new Map((await lookup([...wanted.keys()])).map((r) => [identityKey(r), r.contactId]));
  const created = new Set<string>();
  // Sorted, so two transactions inserting the same new identities wait on each other in one order only.
  const missing = [...wanted.keys()].filter((k) => !contactOf.has(k)).sort();
  if (!missing.length) return { contactOf, created };
  const fresh = missing.map((key) => ({ key, id: crypto.randomUUID(), identity: wanted.get(key)! }));
  // Identities and their contacts in one statement: a contact row is made only where its identity's
  // insert won (foreign keys are checked at the end of the statement, so the order is free).
  const won = rowsOf<{ id: string }>(
    await tx.execute(sql`
      WITH won AS (
        INSERT INTO ${contactIdentities} (workspace_id, contact_id, kind, value, verified)
        VALUES ${sql.join(
          fresh.map(
            (f) =>
              sql`(${workspaceId}::uuid, ${f.id}::uuid, ${f.identity.kind}::identity_kind, ${f.identity.value}, ${f.identity.verified ?? true})`,
          ),
          sql`, `,
        )}
        ON CONFLICT DO NOTHING RETURNING contact_id)
      INSERT INTO ${contacts} (id, workspace_id, name)
      SELECT v.id, ${workspaceId}::uuid, v.name FROM won JOIN (VALUES ${sql.join(
        fresh.map((f) => sql`(${f.id}::uuid, ${f.identity.displayName ?? null}::text)`),
        sql`, `,
      )}) AS v(id, name) ON v.id = won.contact_id
      RETURNING id`),
  );
  for (const { id } of won) created.add(id);
  for (const f of fresh) if (created.has(f.id)) contactOf.set(f.key, f.id);
  // Identities another transaction stored first: theirs.
  const lost = fresh.filter((f) => !created.has(f.id)).map((f) => f.key);
  if (lost.length) for (const r of await lookup(lost)) contactOf.set(identityKey(r), r.contactId);
  return { contactOf, created };
}

/**
 * A contact with identities, notes and past conversations. An actor's profile lists only the
 * conversations the visibility rule lets them see (an agent must not read every conversation's last
 * message through its contact); `{ workspaceId }` alone is the system's view, with all of them.
 */
export async function contactProfile(db: Executor, reader: Actor | { workspaceId: string }, contactId: string) {
  const workspaceId = reader.workspaceId;
  const [contact] = await db
    .select()
    .from(contacts)
    .where(and(eq(contacts.workspaceId, workspaceId), eq(contacts.id, contactId)));
  if (!contact) throw new NotFound("Contact");
  const [identities, history, notes] = await Promise.all([
    db
      .select({
        id: contactIdentities.id,
        kind: contactIdentities.kind,
        value: contactIdentities.value,
        verified: contactIdentities.verified,
        // SMS/WhatsApp STOP: the contact panel shows it beside the number.
        optedOutAt: contactIdentities.optedOutAt,
      })
      .from(contactIdentities)
      .where(and(eq(contactIdentities.workspaceId, workspaceId), eq(contactIdentities.contactId, contactId)))
      .orderBy(asc(contactIdentities.createdAt), asc(contactIdentities.id)),
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
      .where(
        and(
          eq(conversations.workspaceId, workspaceId),
          eq(conversations.contactId, contactId),
          "role" in reader ? visibleConversations(reader) : undefined,
        ),
      )
      .orderBy(desc(conversations.lastActivityAt)),
    notesOf(db, workspaceId, contactId),
  ]);
  return {
    id: contact.id,
    name: contact.name,
    attributes: contact.attributes,
    mergedIntoId: contact.mergedIntoId,
    createdAt: contact.createdAt,
    identities,
    conversations: history,
    notes,
  };
}

/**
 * Contacts whose name or any identity contains `q` (every contact without it), by name; merged
 * contacts are pointers and never listed.
 */
export async function searchContacts(db: Executor, workspaceId: string, q: string | undefined, limit: number) {
  const found = await db
    .select({ id: contacts.id, name: contacts.name })
    .from(contacts)
    .where(
      and(
        eq(contacts.workspaceId, workspaceId),
        isNull(contacts.mergedIntoId),
        q
          ? or(
              containsText(contacts.name, q),
              sql`EXISTS (SELECT 1 FROM ${contactIdentities} WHERE ${contactIdentities.contactId} = ${contacts.id}
                AND ${containsText(contactIdentities.value, q)})`,
            )
          : undefined,
      ),
    )
    .orderBy(sql`${contacts.name} ASC NULLS LAST`, asc(contacts.id))
    .limit(limit);
  if (!found.length) return [];
  const identities = await db
    .select({
      id: contactIdentities.id,
      contactId: contactIdentities.contactId,
      kind: contactIdentities.kind,
      value: contactIdentities.value,
    })
    .from(contactIdentities)
    .where(
      inArray(
        contactIdentities.contactId,
        found.map((c) => c.id),
      ),
    )
    .orderBy(asc(contactIdentities.createdAt), asc(contactIdentities.id));
  return found.map((c) => ({
    ...c,
    identities: identities.filter((i) => i.contactId === c.id).map(({ id, kind, value }) => ({ id, kind, value })),
  }));
}

/** Tells every agent's open view of the contact to refresh. */
export async function announceContactUpdated(
  events: EventLog,
  contact: Pick<Contact, "id" | "workspaceId" | "name" | "attributes">,
) {
  await events.append(contact.workspaceId, {
    type: "contact.updated",
    payload: { contact: { id: contact.id, name: contact.name, attributes: contact.attributes } },
  });
}

/** The contact, locked for the rest of the transaction: identity changes on one contact go one at a time. */
export async function lockContact(tx: Tx, workspaceId: string, contactId: string) {
  const [contact] = await tx
    .select()
    .from(contacts)
    .where(and(eq(contacts.workspaceId, workspaceId), eq(contacts.id, contactId)))
    .for("update");
  if (!contact) throw new NotFound("Contact");
  if (contact.mergedIntoId) throw new Invalid("This contact was merged into another; change that one", "id");
  return contact;
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
        ...(patch.attributes !== undefined
          ? { attributes: sql`${contacts.attributes} || ${JSON.stringify(patch.attributes)}::jsonb` }
          : {}),
        updatedAt: new Date(),
      })
      .where(and(eq(contacts.workspaceId, workspaceId), eq(contacts.id, contactId)))
      .returning();
    if (!row) throw new NotFound("Contact");
    await announceContactUpdated(events, row);
    return row;
  });
}

/** Agents' notes on a contact, newest first, with who wrote each (null once that user is gone). */
async function notesOf(db: Executor, workspaceId: string, contactId: string) {
  const rows = await db
    .select({
      id: contactNotes.id,
      text: contactNotes.text,
      authorId: users.id,
      authorName: users.name,
      createdAt: contactNotes.createdAt,
    })
    .from(contactNotes)
    .leftJoin(users, eq(users.id, contactNotes.authorId))
    .where(and(eq(contactNotes.workspaceId, workspaceId), eq(contactNotes.contactId, contactId)))
    .orderBy(desc(contactNotes.createdAt), desc(contactNotes.id));
  return rows.map((r) => ({
    id: r.id,
    text: r.text,
    author: r.authorId ? { id: r.authorId, name: r.authorName! } : null,
    createdAt: r.createdAt.toISOString(),
  }));
}

export async function addContactNote(core: Core, actor: Actor, contactId: string, text: string) {
  return withEvents(core, async (tx, events) => {
    const contact = await lockContact(tx, actor.workspaceId, contactId);
    const [note] = await tx
      .insert(contactNotes)
      .values({ workspaceId: actor.workspaceId, contactId, authorId: actor.userId, text })
      .returning();
    await announceContactUpdated(events, contact);
    return {
      id: note!.id,
      text: note!.text,
      author: { id: actor.userId, name: actor.name },
      createdAt: note!.createdAt.toISOString(),
    };
  });
}

/** Its author may take a note back; supervisors and admins may remove anyone's. */
export async function deleteContactNote(core: Core, actor: Actor, contactId: string, noteId: string) {
  return withEvents(core, async (tx, events) => {
    const [contact] = await tx
      .select()
      .from(contacts)
      .where(and(eq(contacts.workspaceId, actor.workspaceId), eq(contacts.id, contactId)));
    if (!contact) throw new NotFound("Contact");
    const [note] = await tx
      .select({ authorId: contactNotes.authorId })
      .from(contactNotes)
      .where(
        and(
          eq(contactNotes.workspaceId, actor.workspaceId),
          eq(contactNotes.contactId, contactId),
          eq(contactNotes.id, noteId),
        ),
      );
    if (!note) throw new NotFound("Note", "noteId");
    if (note.authorId !== actor.userId && !can(actor, "contacts.moderate"))
      throw new Forbidden("Only the note's author, a supervisor or an admin may delete it");
    await tx.delete(contactNotes).where(eq(contactNotes.id, noteId));
    await announceContactUpdated(events, contact);
  });
}
