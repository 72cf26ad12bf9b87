import { and, asc, eq } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { inboxes, type Channel, type Inbox, type InboxSettings } from "../db/schema/index.ts";
import { randomToken, UnknownKeyError, type Keyring } from "../platform/crypto.ts";
import { Conflict, NotFound } from "../platform/errors.ts";
import { log } from "../platform/log.ts";
import { claimRoutes, routeKeysOf } from "./inbox-route.ts";

/**
 * Creates an inbox. Credentials are sealed before they reach the database; a web chat inbox gets a
 * public widget key and an HMAC secret for identity verification. The routing keys its settings name
 * (email address and aliases, phone number) are claimed in the same transaction: a key another inbox
 * holds is a 409. `ownerProven: false` (the admin API's email inboxes) leaves them receiving nothing
 * until proven; code that seeds inboxes (demo, scripts, tests) is trusted by default.
 */
export async function createInbox(
  db: Executor,
  keyring: Keyring,
  input: {
    /** Chosen before the row exists when a provider must be told the inbox's URL first (Telegram). */
    id?: string;
    workspaceId: string;
    channel: Channel;
    name: string;
    settings?: InboxSettings;
    credentials?: Record<string, unknown>;
    ownerProven?: boolean;
  },
) {
  const credentials =
    input.channel === "webchat" ? { hmacSecret: randomToken(32), ...input.credentials } : input.credentials;
  return db.transaction(async (tx) => {
    const [inbox] = await tx
      .insert(inboxes)
      .values({
        ...(input.id ? { id: input.id } : {}),
        workspaceId: input.workspaceId,
        channel: input.channel,
        name: input.name,
        publicKey: input.channel === "webchat" ? `wc_${randomToken(12)}` : null,
        credentials: credentials ? keyring.seal(JSON.stringify(credentials)) : null,
        settings: input.settings ?? {},
      })
      .returning();
    await claimRoutes(tx, inbox!, routeKeysOf(input.channel, inbox!.settings), { verified: input.ownerProven ?? true });
    return inbox!;
  });
}

const UNREADABLE = "inbox credentials sealed with an unknown key: an admin must enter them again";

/**
 * An inbox's credentials, opened. Sealed with a key this server no longer has (SECRET_KEY changed
 * without SECRET_KEY_PREVIOUS): a 409 naming the inbox, logged, for this inbox alone — an admin
 * enters them again. Sealed with the previous key: sealed again with the current one when `db` is
 * given (guarded by the old value, so a concurrent change wins).
 */
export function readCredentials(
  keyring: Keyring,
  row: Pick<Inbox, "id" | "workspaceId" | "name" | "credentials">,
  db?: Executor,
): Record<string, unknown> {
  if (!row.credentials) return {};
  let opened: { plaintext: string; stale: boolean };
  try {
    opened = keyring.openSealed(row.credentials);
  } catch (err) {
    if (!(err instanceof UnknownKeyError)) throw err;
    log.error(UNREADABLE, { inboxId: row.id, workspaceId: row.workspaceId, inbox: row.name });
    throw new Conflict(
      `The credentials of inbox "${row.name}" were sealed with a key this server does not have: an admin must enter them again`,
      "credentials",
    );
  }
  if (opened.stale && db) {
    const old = row.credentials;
    db.update(inboxes)
      .set({ credentials: keyring.seal(opened.plaintext) })
      .where(and(eq(inboxes.id, row.id), eq(inboxes.credentials, old)))
      .catch((err: unknown) =>
        log.warn("re-sealing inbox credentials failed (tried again when read)", { inboxId: row.id, err }),
      );
  }
  return JSON.parse(opened.plaintext) as Record<string, unknown>;
}

/**
 * Seals again, with the current key, every inbox credential sealed with the previous one (start-up
 * after a rotation): afterwards SECRET_KEY_PREVIOUS can go. Values no key opens are left for an admin.
 */
export async function resealCredentials(db: Executor, keyring: Keyring) {
  const rows = await db.select({ id: inboxes.id, credentials: inboxes.credentials }).from(inboxes);
  let resealed = 0;
  for (const row of rows) {
    if (!row.credentials || keyring.isCurrent(row.credentials)) continue;
    try {
      const { plaintext } = keyring.openSealed(row.credentials);
      const unchanged = and(eq(inboxes.id, row.id), eq(inboxes.credentials, row.credentials));
      await db
        .update(inboxes)
        .set({ credentials: keyring.seal(plaintext) })
        .where(unchanged);
      resealed++;
    } catch (err) {
      if (!(err instanceof UnknownKeyError)) throw err;
      log.error(UNREADABLE, { inboxId: row.id });
    }
  }
  return resealed;
}

const listed = {
  id: inboxes.id,
  name: inboxes.name,
  channel: inboxes.channel,
  publicKey: inboxes.publicKey,
  settings: inboxes.settings,
  createdAt: inboxes.createdAt,
};
export type ListedInbox = {
  id: string;
  name: string;
  channel: Channel;
  publicKey: string | null;
  settings: InboxSettings;
  createdAt: Date;
};

/** A workspace's inboxes, oldest first, without their sealed credentials. */
export async function listInboxes(db: Executor, workspaceId: string): Promise<ListedInbox[]> {
  return db
    .select(listed)
    .from(inboxes)
    .where(eq(inboxes.workspaceId, workspaceId))
    .orderBy(asc(inboxes.createdAt), asc(inboxes.id));
}

export async function renameInbox(db: Executor, workspaceId: string, id: string, name: string): Promise<ListedInbox> {
  const [row] = await db
    .update(inboxes)
    .set({ name })
    .where(and(eq(inboxes.workspaceId, workspaceId), eq(inboxes.id, id)))
    .returning(listed);
  if (!row) throw new NotFound("Inbox", "id");
  return row;
}

/**
 * Replaces an inbox's settings and changes some of its sealed credentials: a key given a value is
 * set, a key given null is removed, keys not given are kept (an admin need not retype passwords).
 * Credentials no key of this server opens are replaced by what is given: an admin can always enter
 * them again. Routing keys the new settings name are claimed unproven (409 when taken).
 */
export async function updateInboxSettings(
  db: Executor,
  keyring: Keyring,
  workspaceId: string,
  id: string,
  settings: InboxSettings,
  credentials: Record<string, unknown> = {},
) {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .select()
      .from(inboxes)
      .where(and(eq(inboxes.workspaceId, workspaceId), eq(inboxes.id, id)))
      .for("update");
    if (!row) throw new NotFound("Inbox", "id");
    let current: Record<string, unknown> = {};
    try {
      current = readCredentials(keyring, row);
    } catch (err) {
      if (!(err instanceof Conflict)) throw err;
    }
    const merged = Object.fromEntries(
      Object.entries({ ...current, ...credentials }).filter(([, v]) => v !== null && v !== undefined),
    );
    const [updated] = await tx
      .update(inboxes)
      .set({ settings, credentials: Object.keys(merged).length ? keyring.seal(JSON.stringify(merged)) : null })
      .where(eq(inboxes.id, id))
      .returning();
    await claimRoutes(tx, updated!, routeKeysOf(updated!.channel, settings), { verified: false });
    return { inbox: updated!, credentials: merged };
  });
}

/** An inbox with its settings and which credentials it has (never their values). */
export async function inboxSettings(db: Executor, keyring: Keyring, workspaceId: string, id: string) {
  const [row] = await db
    .select()
    .from(inboxes)
    .where(and(eq(inboxes.workspaceId, workspaceId), eq(inboxes.id, id)));
  if (!row) throw new NotFound("Inbox", "id");
  return { inbox: row, credentialKeys: Object.keys(readCredentials(keyring, row, db)) };
}

/** An inbox of the workspace, without opening its credentials (a PUT that may replace them). */
export async function requireInbox(db: Executor, workspaceId: string, id: string): Promise<Inbox> {
  const [row] = await db
    .select()
    .from(inboxes)
    .where(and(eq(inboxes.workspaceId, workspaceId), eq(inboxes.id, id)));
  if (!row) throw new NotFound("Inbox", "id");
  return row;
}
