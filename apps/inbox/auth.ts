import { and, eq, gt, isNull } from "drizzle-orm";
import { createMiddleware } from "hono/factory";
import type { Executor } from "../../db/connect.ts";
import { sessions, users, workspaces, type User } from "../../db/schema/index.ts";
import type { Actor } from "../../conversations/actor.ts";
import { authenticateApiKey, isApiKey } from "../../conversations/api-key.ts";
import { withEvents, type Core } from "../../conversations/transaction.ts";
import { randomToken, sha256Hex, type Keyring } from "../../platform/crypto.ts";
import { Invalid, Unauthorized } from "../../platform/errors.ts";
import { NewPassword } from "../../platform/password.ts";
import { teamIdsOf } from "../../routing/agent.ts";

const SESSION_DAYS = 30;

// Verifying against a fixed hash when the email is unknown keeps response time from telling which
// emails have accounts.
const decoyHash = Bun.password.hash("not-a-real-password");

/** Email + password → a bearer token (only its SHA-256 is stored). */
export async function login(db: Executor, email: string, password: string) {
  const [user] = await db
    .select()
    .from(users)
    .where(and(eq(users.email, email.trim().toLowerCase()), isNull(users.disabledAt), eq(users.kind, "person")));
  const ok = await Bun.password.verify(password, user?.passwordHash ?? (await decoyHash));
  if (!user || !ok) throw new Unauthorized("Wrong email or password");
  return { token: await startSession(db, user), user };
}

async function startSession(db: Executor, user: User) {
  const token = randomToken();
  await db.insert(sessions).values({
    workspaceId: user.workspaceId,
    userId: user.id,
    tokenHash: sha256Hex(token),
    expiresAt: new Date(Date.now() + SESSION_DAYS * 86_400_000),
  });
  return token;
}

/** What sign-in answers with, beside the token. */
export function signedInUser(user: User) {
  return { id: user.id, name: user.name, email: user.email, role: user.role };
}

const INVITE_DAYS = 7;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
type InviteClaims = { k: "invite"; u: string; exp: number; p: string };

// The invitation names the password hash it was issued against: once the invitee sets a password
// (or an admin's reset changes it) the link is spent, with nothing stored to remember it by.
const passwordFingerprint = (hash: string) => sha256Hex(hash).slice(0, 24);

/** A signed link token that lets the user set their first password, valid for seven days. */
export function inviteToken(keyring: Keyring, user: Pick<User, "id" | "passwordHash">, now = Date.now()) {
  const claims: InviteClaims = {
    k: "invite",
    u: user.id,
    exp: Math.floor(now / 1000) + INVITE_DAYS * 86_400,
    p: passwordFingerprint(user.passwordHash),
  };
  return keyring.signToken(claims);
}

export function inviteUrl(publicUrl: string, token: string) {
  return `${publicUrl}/app/#/invite/${token}`;
}

/** Sets the invitee's password and signs them in; a forged, expired or spent token is refused. */
export async function acceptInvite(db: Executor, keyring: Keyring, token: string, password: string) {
  const refused = new Unauthorized("The invitation is invalid, expired or already used", "token");
  const claims = keyring.verifyToken<Partial<InviteClaims>>(token);
  if (
    claims?.k !== "invite" ||
    typeof claims.u !== "string" ||
    !UUID.test(claims.u) ||
    typeof claims.exp !== "number" ||
    claims.exp * 1000 <= Date.now()
  )
    throw refused;
  const [user] = await db
    .select()
    .from(users)
    .where(and(eq(users.id, claims.u), isNull(users.disabledAt)));
  if (!user || passwordFingerprint(user.passwordHash) !== claims.p) throw refused;
  if (!NewPassword.safeParse(password).success)
    throw new Invalid("The password must be at least 8 characters, not only spaces", "password");
  // Guarded by the old hash, so two tabs accepting at once set one password, not the later one.
  const [updated] = await db
    .update(users)
    .set({ passwordHash: await Bun.password.hash(password) })
    .where(and(eq(users.id, user.id), eq(users.passwordHash, user.passwordHash)))
    .returning();
  if (!updated) throw refused;
  return { token: await startSession(db, updated), user: updated };
}

/**
 * Ends one session. Its open sockets, on whichever node, hear `session.ended` (addressed to the user
 * alone) and close once their token no longer signs in (apps/inbox/realtime.ts).
 */
export async function logout(core: Core, token: string) {
  await withEvents(core, async (tx, events) => {
    const [ended] = await tx
      .delete(sessions)
      .where(eq(sessions.tokenHash, sha256Hex(token)))
      .returning({ userId: sessions.userId, workspaceId: sessions.workspaceId });
    if (ended)
      await events.append(ended.workspaceId, { type: "session.ended", payload: { onlyFor: { userId: ended.userId } } });
  });
}

/** A session token, or an API key (conversations/api-key.ts): looked up on every request. */
export async function authenticate(db: Executor, token: string): Promise<Actor | undefined> {
  if (isApiKey(token)) return authenticateApiKey(db, token);
  const [row] = await db
    .select({ id: users.id, workspaceId: users.workspaceId, role: users.role, name: users.name })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.tokenHash, sha256Hex(token)), gt(sessions.expiresAt, new Date()), isNull(users.disabledAt)));
  if (!row) return undefined;
  return {
    userId: row.id,
    workspaceId: row.workspaceId,
    role: row.role,
    name: row.name,
    teamIds: await teamIdsOf(db, row.id),
  };
}

/** The signed-in user's email and workspace, for the inbox's header. */
export async function accountOf(db: Executor, actor: Actor) {
  const [row] = await db
    .select({ email: users.email, workspace: { id: workspaces.id, name: workspaces.name } })
    .from(users)
    .innerJoin(workspaces, eq(workspaces.id, users.workspaceId))
    .where(and(eq(users.id, actor.userId), eq(users.workspaceId, actor.workspaceId)));
  if (!row) throw new Unauthorized();
  return row;
}

/** Bearer header, or `?token=` where a header cannot be sent (WebSocket, <img src>). */
export function tokenFrom(req: { header(name: string): string | undefined; query(name: string): string | undefined }) {
  const header = req.header("authorization");
  if (header?.toLowerCase().startsWith("bearer ")) return header.slice(7).trim();
  return req.query("token") || undefined;
}

export type AuthEnv = { Variables: { actor: Actor; token: string } };

export function requireActor(db: Executor) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    const token = tokenFrom(c.req);
    const actor = token ? await authenticate(db, token) : undefined;
    if (!actor || !token) throw new Unauthorized();
    c.set("actor", actor);
    c.set("token", token);
    await next();
  });
}
