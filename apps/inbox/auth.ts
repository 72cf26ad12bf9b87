import { and, eq, gt, isNull } from "drizzle-orm";
import { createMiddleware } from "hono/factory";
import type { Executor } from "../../db/connect.ts";
import { sessions, users, type Role } from "../../db/schema/index.ts";
import type { Actor } from "../../conversations/actor.ts";
import { randomToken, sha256Hex } from "../../platform/crypto.ts";
import { Forbidden, Unauthorized } from "../../platform/errors.ts";
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
    .where(and(eq(users.email, email.trim().toLowerCase()), isNull(users.disabledAt)));
  const ok = await Bun.password.verify(password, user?.passwordHash ?? (await decoyHash));
  if (!user || !ok) throw new Unauthorized("Wrong email or password");
  const token = randomToken();
  await db.insert(sessions).values({
    workspaceId: user.workspaceId,
    userId: user.id,
    tokenHash: sha256Hex(token),
    expiresAt: new Date(Date.now() + SESSION_DAYS * 86_400_000),
  });
  return { token, user };
}

export async function logout(db: Executor, token: string) {
  await db.delete(sessions).where(eq(sessions.tokenHash, sha256Hex(token)));
}

export async function authenticate(db: Executor, token: string): Promise<Actor | undefined> {
  const [row] = await db
    .select({ id: users.id, workspaceId: users.workspaceId, role: users.role, name: users.name })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.tokenHash, sha256Hex(token)), gt(sessions.expiresAt, new Date()), isNull(users.disabledAt)));
  if (!row) return undefined;
  return { userId: row.id, workspaceId: row.workspaceId, role: row.role, name: row.name, teamIds: await teamIdsOf(db, row.id) };
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

export function requireRole(actor: Actor, ...roles: Role[]) {
  if (!roles.includes(actor.role)) throw new Forbidden(`Requires role ${roles.join(" or ")}`);
}
