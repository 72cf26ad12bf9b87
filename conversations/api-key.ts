import { and, desc, eq, gt, isNull, lt, or } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { apiKeys, users, type ApiKeyScope } from "../db/schema/index.ts";
import { randomToken, sha256Hex } from "../platform/crypto.ts";
import { Forbidden, Invalid, NotFound } from "../platform/errors.ts";
import { rolePermissions, roles, type Permission } from "../platform/permission.ts";
import type { Actor } from "./actor.ts";
import { withEvents, type Core } from "./transaction.ts";

/** Every key starts so: a bearer token that does not is a session token. */
export const API_KEY_PREFIX = "sbk_";
/** How often a key's `lastUsedAt` is written at most. */
const LAST_USED_EVERY_MS = 60_000;

export function isApiKey(token: string) {
  return token.startsWith(API_KEY_PREFIX);
}

/**
 * A new key and the service user it acts as (`users.kind = 'service'`, named after the key, role admin
 * for what it may see, a password nobody knows and sign-in refused to service users anyway). The key
 * is returned here once; only its SHA-256 and first characters are stored.
 */
export async function createApiKey(
  core: Core,
  input: { workspaceId: string; createdBy: string; name: string; scopes: ApiKeyScope[]; expiresAt?: Date },
) {
  if (input.expiresAt && input.expiresAt.getTime() <= Date.now())
    throw new Invalid("expiresAt must be in the future", "expiresAt");
  const key = `${API_KEY_PREFIX}${randomToken(32)}`;
  const scopes = [...new Set(input.scopes)];
  return withEvents(core, async (tx) => {
    const [user] = await tx
      .insert(users)
      .values({
        workspaceId: input.workspaceId,
        email: `api-key-${crypto.randomUUID()}@service.invalid`,
        name: input.name,
        role: "admin",
        kind: "service",
        passwordHash: `!service:${sha256Hex(randomToken(32))}`,
      })
      .returning({ id: users.id });
    const [row] = await tx
      .insert(apiKeys)
      .values({
        workspaceId: input.workspaceId,
        name: input.name,
        scopes,
        keyHash: sha256Hex(key),
        prefix: key.slice(0, API_KEY_PREFIX.length + 6),
        userId: user!.id,
        createdBy: input.createdBy,
        expiresAt: input.expiresAt ?? null,
      })
      .returning();
    return { id: row!.id, key, row: row! };
  });
}

/** What Settings shows of a key: never the key nor its hash. */
export function apiKeyView(k: typeof apiKeys.$inferSelect) {
  return {
    id: k.id,
    name: k.name,
    scopes: k.scopes,
    prefix: k.prefix,
    userId: k.userId,
    createdAt: k.createdAt.toISOString(),
    expiresAt: k.expiresAt?.toISOString() ?? null,
    lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
    revokedAt: k.revokedAt?.toISOString() ?? null,
  };
}

export async function listApiKeys(db: Executor, workspaceId: string) {
  const rows = await db
    .select()
    .from(apiKeys)
    .where(eq(apiKeys.workspaceId, workspaceId))
    .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id));
  return rows.map(apiKeyView);
}

/**
 * Revokes a key and disables its service user. Every request looks the key up, so every node refuses
 * it from now on; its open sockets (addressed `session.ended`) check again and close.
 */
export async function revokeApiKey(core: Core, workspaceId: string, id: string) {
  return withEvents(core, async (tx, events) => {
    const [row] = await tx
      .select()
      .from(apiKeys)
      .where(and(eq(apiKeys.workspaceId, workspaceId), eq(apiKeys.id, id)))
      .for("update");
    if (!row) throw new NotFound("API key", "id");
    if (row.revokedAt) return apiKeyView(row);
    const now = new Date();
    const [revoked] = await tx.update(apiKeys).set({ revokedAt: now }).where(eq(apiKeys.id, id)).returning();
    await tx.update(users).set({ disabledAt: now }).where(eq(users.id, row.userId));
    await events.append(workspaceId, { type: "session.ended", payload: { onlyFor: { userId: row.userId } } });
    return apiKeyView(revoked!);
  });
}

/**
 * The actor a key acts as, looked up by its SHA-256 on every request: none when unknown, revoked,
 * expired or its user disabled. Its last-used time is written at most once a minute.
 */
export async function authenticateApiKey(db: Executor, key: string): Promise<Actor | undefined> {
  const now = new Date();
  const [row] = await db
    .select({
      id: apiKeys.id,
      scopes: apiKeys.scopes,
      lastUsedAt: apiKeys.lastUsedAt,
      userId: users.id,
      workspaceId: users.workspaceId,
      role: users.role,
      name: users.name,
    })
    .from(apiKeys)
    .innerJoin(users, eq(users.id, apiKeys.userId))
    .where(
      and(
        eq(apiKeys.keyHash, sha256Hex(key)),
        isNull(apiKeys.revokedAt),
        or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, now)),
        isNull(users.disabledAt),
        eq(users.kind, "service"),
      ),
    );
  if (!row) return undefined;
  if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() >= LAST_USED_EVERY_MS) {
    const stale = new Date(now.getTime() - LAST_USED_EVERY_MS);
    await db
      .update(apiKeys)
      .set({ lastUsedAt: now })
      .where(and(eq(apiKeys.id, row.id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, stale))));
  }
  return {
    userId: row.userId,
    workspaceId: row.workspaceId,
    role: row.role,
    name: row.name,
    teamIds: [],
    scopes: row.scopes,
  };
}

// Permissions only the admin role holds: what the `write` scope does not reach.
const adminOnly = new Set<Permission>(
  rolePermissions.admin.filter((p) => !roles.some((r) => r !== "admin" && rolePermissions[r].includes(p))),
);
// A service user takes no work: no presence, no offers (so it is never routed to).
const neverForKeys = new Set<Permission>(["presence.take_work", "offers.accept"]);

/**
 * A key's scopes against one route: `read` reads (GET, HEAD), `write` also writes, `admin` does
 * whatever the admin role may; routes of permissions only admins hold (settings, users, inboxes, API
 * keys) need `admin`, whatever the method. Session users carry no scopes and pass.
 */
export function requireScope(actor: Actor, method: string, permission: Permission) {
  if (!actor.scopes) return;
  if (neverForKeys.has(permission)) throw new Forbidden("API keys do not take work (presence, offers)");
  const scopes = actor.scopes;
  if (scopes.includes("admin")) return;
  if (adminOnly.has(permission)) throw new Forbidden("This API key needs the admin scope");
  const reading = method === "GET" || method === "HEAD";
  if (reading ? !scopes.includes("read") && !scopes.includes("write") : !scopes.includes("write"))
    throw new Forbidden(`This API key needs the ${reading ? "read" : "write"} scope`);
}
