import { and, asc, eq, inArray, isNull } from "drizzle-orm";
import { isUniqueViolation, type Executor } from "../db/connect.ts";
import {
  agentSkills,
  agentStates,
  sessions,
  skills,
  teamMembers,
  teams,
  users,
  type Role,
  type User,
} from "../db/schema/index.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import { randomToken } from "../platform/crypto.ts";
import { Conflict, Invalid, NotFound } from "../platform/errors.ts";
import { setPresence } from "./presence.ts";

/**
 * Agents are the workspace's users; what routing needs of them (teams, skill levels) lives here.
 * Without a password the account gets the hash of a random one nobody knows: it can only be
 * claimed through an invitation (apps/inbox/auth.ts).
 */
export async function createAgent(
  db: Executor,
  input: { workspaceId: string; email: string; name: string; role: Role; password?: string; locale?: string },
) {
  const email = input.email.trim().toLowerCase();
  const [user] = await db
    .insert(users)
    .values({
      workspaceId: input.workspaceId,
      email,
      name: input.name,
      role: input.role,
      locale: input.locale ?? "en",
      passwordHash: await Bun.password.hash(input.password ?? randomToken(32)),
    })
    .onConflictDoNothing({ target: users.email })
    .returning();
  if (!user) throw new Conflict(`A user with the email ${email} exists`, "email");
  return user;
}

/**
 * Active users of a workspace by name: who can be picked for assignment, transfer or a team (people
 * only: an API key's service user is never picked).
 */
export async function activeUsers(db: Executor, workspaceId: string) {
  return db
    .select({ id: users.id, name: users.name, role: users.role })
    .from(users)
    .where(and(eq(users.workspaceId, workspaceId), isNull(users.disabledAt), eq(users.kind, "person")))
    .orderBy(asc(users.name), asc(users.id));
}

/**
 * The agent a transfer hands work to: of the workspace and enabled (404 naming `agentId` otherwise);
 * with `signedIn`, also signed in (409), since an offer to someone signed out is withdrawn at once.
 */
export async function transferTarget(db: Executor, workspaceId: string, agentId: string, signedIn: boolean) {
  const [row] = await db
    .select({ id: users.id, name: users.name, presence: agentStates.presence })
    .from(users)
    .leftJoin(agentStates, eq(agentStates.userId, users.id))
    .where(
      and(
        eq(users.workspaceId, workspaceId),
        eq(users.id, agentId),
        isNull(users.disabledAt),
        eq(users.kind, "person"),
      ),
    );
  if (!row) throw new NotFound("Agent", "agentId");
  if (signedIn && (!row.presence || row.presence === "offline"))
    throw new Conflict(`${row.name} is signed out`, "agentId");
  return row;
}

export type AccountChange = { name?: string; role?: Role; disabled?: boolean };

/**
 * Renames, changes the role of, disables or re-enables a user. A workspace always keeps one active
 * admin, and nobody disables themselves. Disabling ends the user's sessions at once, takes them out
 * of routing, and (event `agent.updated`) closes their open realtime sockets.
 */
export async function changeAccount(
  core: Core,
  workspaceId: string,
  actorId: string,
  userId: string,
  change: AccountChange,
): Promise<User> {
  const user = await withEvents(core, async (tx, events) => {
    // The admins are locked first, in one order, so two admins demoting each other at once are
    // serialized: the second sees the first's change and is refused instead of leaving none.
    const admins =
      change.role !== undefined || change.disabled
        ? await tx
            .select({ id: users.id })
            .from(users)
            .where(
              and(
                eq(users.workspaceId, workspaceId),
                eq(users.role, "admin"),
                isNull(users.disabledAt),
                eq(users.kind, "person"),
              ),
            )
            .orderBy(asc(users.id))
            .for("update")
        : [];
    const [before] = await tx
      .select()
      .from(users)
      .where(and(eq(users.workspaceId, workspaceId), eq(users.id, userId)))
      .for("update");
    if (!before) throw new NotFound("Agent", "id");
    if (change.disabled && userId === actorId) throw new Invalid("You cannot disable your own account", "disabled");
    const demoted = change.role !== undefined && change.role !== "admin";
    if (admins.some((a) => a.id === userId) && (demoted || change.disabled) && admins.length <= 1)
      throw new Invalid("The workspace must keep at least one active admin", demoted ? "role" : "disabled");
    const disabledAt =
      change.disabled === undefined ? before.disabledAt : change.disabled ? (before.disabledAt ?? new Date()) : null;
    const [after] = await tx
      .update(users)
      .set({ name: change.name ?? before.name, role: change.role ?? before.role, disabledAt })
      .where(eq(users.id, userId))
      .returning();
    if (disabledAt) await tx.delete(sessions).where(eq(sessions.userId, userId));
    await events.append(workspaceId, {
      type: "agent.updated",
      payload: { agent: { id: userId, name: after!.name, role: after!.role, disabled: !!disabledAt } },
    });
    return after!;
  });
  if (user.disabledAt) await setPresence(core, workspaceId, userId, { presence: "offline", reason: "disabled" });
  return user;
}

/** One row a team listing shows: the team and its active members by name. */
export type TeamView = { id: string; name: string; members: { id: string; name: string }[] };

export async function listTeams(db: Executor, workspaceId: string, teamId?: string): Promise<TeamView[]> {
  const rows = await db
    .select({ id: teams.id, name: teams.name })
    .from(teams)
    .where(and(eq(teams.workspaceId, workspaceId), teamId ? eq(teams.id, teamId) : undefined))
    .orderBy(asc(teams.name));
  if (!rows.length) return [];
  const members = await db
    .select({ teamId: teamMembers.teamId, id: users.id, name: users.name })
    .from(teamMembers)
    .innerJoin(users, eq(users.id, teamMembers.userId))
    .where(
      and(
        inArray(
          teamMembers.teamId,
          rows.map((t) => t.id),
        ),
        isNull(users.disabledAt),
      ),
    )
    .orderBy(asc(users.name), asc(users.id));
  return rows.map((t) => ({
    ...t,
    members: members.filter((m) => m.teamId === t.id).map(({ id, name }) => ({ id, name })),
  }));
}

export async function teamView(db: Executor, workspaceId: string, teamId: string): Promise<TeamView> {
  const [team] = await listTeams(db, workspaceId, teamId);
  if (!team) throw new NotFound("Team", "id");
  return team;
}

export async function createTeam(db: Executor, workspaceId: string, name: string, memberIds: string[] = []) {
  const [team] = await db
    .insert(teams)
    .values({ workspaceId, name })
    .onConflictDoNothing({ target: [teams.workspaceId, teams.name] })
    .returning();
  if (!team) throw new Conflict(`A team named "${name}" exists`, "name");
  if (memberIds.length)
    await db.insert(teamMembers).values(memberIds.map((userId) => ({ workspaceId, teamId: team.id, userId })));
  return team;
}

export async function renameTeam(db: Executor, workspaceId: string, teamId: string, name: string) {
  const renamed = await db
    .update(teams)
    .set({ name })
    .where(and(eq(teams.workspaceId, workspaceId), eq(teams.id, teamId)))
    .returning({ id: teams.id })
    .catch((err: unknown) => {
      throw isUniqueViolation(err) ? new Conflict(`A team named "${name}" exists`, "name") : err;
    });
  if (!renamed.length) throw new NotFound("Team", "id");
  return teamView(db, workspaceId, teamId);
}

/**
 * Replaces a team's members; each must be an active user of the same workspace. Event `team.updated`
 * (the new member ids) re-authorizes open sockets: who left stops seeing the team's conversations.
 */
export async function setTeamMembers(core: Core, workspaceId: string, teamId: string, userIds: string[]) {
  const wanted = [...new Set(userIds)];
  return withEvents(core, async (tx, events) => {
    const [team] = await tx
      .select({ id: teams.id })
      .from(teams)
      .where(and(eq(teams.workspaceId, workspaceId), eq(teams.id, teamId)))
      .for("update");
    if (!team) throw new NotFound("Team", "id");
    const known = wanted.length
      ? await tx
          .select({ id: users.id })
          .from(users)
          .where(and(eq(users.workspaceId, workspaceId), inArray(users.id, wanted), isNull(users.disabledAt)))
      : [];
    const unknown = wanted.find((id) => !known.some((k) => k.id === id));
    if (unknown) throw new Invalid(`Unknown user ${unknown}`, "userIds");
    await tx.delete(teamMembers).where(eq(teamMembers.teamId, teamId));
    if (wanted.length) await tx.insert(teamMembers).values(wanted.map((userId) => ({ workspaceId, teamId, userId })));
    await events.append(workspaceId, { type: "team.updated", payload: { team: { id: teamId, memberIds: wanted } } });
    return teamView(tx, workspaceId, teamId);
  });
}

/**
 * Conversations of a deleted team keep going, without a team (the foreign key sets it null); its
 * members' sockets drop it (`team.updated` with no members).
 */
export async function deleteTeam(core: Core, workspaceId: string, teamId: string) {
  await withEvents(core, async (tx, events) => {
    const deleted = await tx
      .delete(teams)
      .where(and(eq(teams.workspaceId, workspaceId), eq(teams.id, teamId)))
      .returning({ id: teams.id });
    if (!deleted.length) throw new NotFound("Team", "id");
    await events.append(workspaceId, {
      type: "team.updated",
      payload: { team: { id: teamId, memberIds: [], deleted: true } },
    });
  });
}

export async function teamIdsOf(db: Executor, userId: string) {
  const rows = await db.select({ teamId: teamMembers.teamId }).from(teamMembers).where(eq(teamMembers.userId, userId));
  return rows.map((r) => r.teamId);
}

/** Sets an agent's level (1–5) in a skill, creating the skill by name if the workspace lacks it. */
export async function setAgentSkill(
  db: Executor,
  workspaceId: string,
  userId: string,
  skillName: string,
  level: number,
) {
  await db.insert(skills).values({ workspaceId, name: skillName }).onConflictDoNothing();
  const [skill] = await db
    .select({ id: skills.id })
    .from(skills)
    .where(and(eq(skills.workspaceId, workspaceId), eq(skills.name, skillName)));
  await db
    .insert(agentSkills)
    .values({ workspaceId, userId, skillId: skill!.id, level })
    .onConflictDoUpdate({ target: [agentSkills.userId, agentSkills.skillId], set: { level } });
}

export async function agentSkillsOf(db: Executor, userId: string) {
  return db
    .select({ skill: skills.name, level: agentSkills.level })
    .from(agentSkills)
    .innerJoin(skills, eq(skills.id, agentSkills.skillId))
    .where(eq(agentSkills.userId, userId));
}

/** Skill levels of many agents at once: agent id → { skill name → level }. */
export async function skillLevelsOf(db: Executor, userIds: string[]) {
  const levels = new Map<string, Record<string, number>>(userIds.map((id) => [id, {}]));
  if (!userIds.length) return levels;
  const rows = await db
    .select({ userId: agentSkills.userId, skill: skills.name, level: agentSkills.level })
    .from(agentSkills)
    .innerJoin(skills, eq(skills.id, agentSkills.skillId))
    .where(inArray(agentSkills.userId, userIds));
  for (const r of rows) levels.get(r.userId)![r.skill] = r.level;
  return levels;
}
