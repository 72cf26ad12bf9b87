import { and, eq, inArray } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { agentSkills, skills, teamMembers, teams, users, type Role } from "../db/schema/index.ts";

/** Agents are the workspace's users; what routing needs of them (teams, skill levels) lives here. */
export async function createAgent(
  db: Executor,
  input: { workspaceId: string; email: string; name: string; role: Role; password: string; locale?: string },
) {
  const [user] = await db
    .insert(users)
    .values({
      workspaceId: input.workspaceId,
      email: input.email.trim().toLowerCase(),
      name: input.name,
      role: input.role,
      locale: input.locale ?? "en",
      passwordHash: await Bun.password.hash(input.password),
    })
    .returning();
  return user!;
}

export async function createTeam(db: Executor, workspaceId: string, name: string, memberIds: string[] = []) {
  const [team] = await db.insert(teams).values({ workspaceId, name }).returning();
  if (memberIds.length)
    await db.insert(teamMembers).values(memberIds.map((userId) => ({ workspaceId, teamId: team!.id, userId })));
  return team!;
}

export async function teamIdsOf(db: Executor, userId: string) {
  const rows = await db.select({ teamId: teamMembers.teamId }).from(teamMembers).where(eq(teamMembers.userId, userId));
  return rows.map((r) => r.teamId);
}

/** Sets an agent's level (1–5) in a skill, creating the skill by name if the workspace lacks it. */
export async function setAgentSkill(db: Executor, workspaceId: string, userId: string, skillName: string, level: number) {
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
