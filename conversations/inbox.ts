import { and, asc, eq } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { inboxes, type Channel, type InboxSettings } from "../db/schema/index.ts";
import { randomToken, type Keyring } from "../platform/crypto.ts";
import { NotFound } from "../platform/errors.ts";

/**
 * Creates an inbox. Credentials are sealed before they reach the database; a web chat inbox gets a
 * public widget key and an HMAC secret for identity verification.
 */
export async function createInbox(
  db: Executor,
  keyring: Keyring,
  input: { workspaceId: string; channel: Channel; name: string; settings?: InboxSettings; credentials?: Record<string, unknown> },
) {
  const credentials = input.channel === "webchat" ? { hmacSecret: randomToken(32), ...input.credentials } : input.credentials;
  const [inbox] = await db
    .insert(inboxes)
    .values({
      workspaceId: input.workspaceId,
      channel: input.channel,
      name: input.name,
      publicKey: input.channel === "webchat" ? `wc_${randomToken(12)}` : null,
      credentials: credentials ? keyring.seal(JSON.stringify(credentials)) : null,
      settings: input.settings ?? {},
    })
    .returning();
  return inbox!;
}

const listed = { id: inboxes.id, name: inboxes.name, channel: inboxes.channel, publicKey: inboxes.publicKey, createdAt: inboxes.createdAt };
export type ListedInbox = { id: string; name: string; channel: Channel; publicKey: string | null; createdAt: Date };

/** A workspace's inboxes, oldest first, without their sealed credentials. */
export async function listInboxes(db: Executor, workspaceId: string): Promise<ListedInbox[]> {
  return db.select(listed).from(inboxes).where(eq(inboxes.workspaceId, workspaceId)).orderBy(asc(inboxes.createdAt), asc(inboxes.id));
}

export async function renameInbox(db: Executor, workspaceId: string, id: string, name: string): Promise<ListedInbox> {
  const [row] = await db.update(inboxes).set({ name }).where(and(eq(inboxes.workspaceId, workspaceId), eq(inboxes.id, id))).returning(listed);
  if (!row) throw new NotFound("Inbox", "id");
  return row;
}

/**
 * Replaces an inbox's settings and changes some of its sealed credentials: a key given a value is
 * set, a key given null is removed, keys not given are kept (an admin need not retype passwords).
 */
export async function updateInboxSettings(
  db: Executor,
  keyring: Keyring,
  workspaceId: string,
  id: string,
  settings: InboxSettings,
  credentials: Record<string, unknown> = {},
) {
  const [row] = await db.select().from(inboxes).where(and(eq(inboxes.workspaceId, workspaceId), eq(inboxes.id, id)));
  if (!row) throw new NotFound("Inbox", "id");
  const current = row.credentials ? (JSON.parse(keyring.open(row.credentials)) as Record<string, unknown>) : {};
  const merged = Object.fromEntries(Object.entries({ ...current, ...credentials }).filter(([, v]) => v !== null && v !== undefined));
  const [updated] = await db
    .update(inboxes)
    .set({ settings, credentials: Object.keys(merged).length ? keyring.seal(JSON.stringify(merged)) : null })
    .where(eq(inboxes.id, id))
    .returning();
  return { inbox: updated!, credentials: merged };
}

/** An inbox with its settings and which credentials it has (never their values). */
export async function inboxSettings(db: Executor, keyring: Keyring, workspaceId: string, id: string) {
  const [row] = await db.select().from(inboxes).where(and(eq(inboxes.workspaceId, workspaceId), eq(inboxes.id, id)));
  if (!row) throw new NotFound("Inbox", "id");
  const credentials = row.credentials ? (JSON.parse(keyring.open(row.credentials)) as Record<string, unknown>) : {};
  return { inbox: row, credentialKeys: Object.keys(credentials) };
}
