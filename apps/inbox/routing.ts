import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, inArray, isNull } from "drizzle-orm";
import { roles, skills, users } from "../../db/schema/index.ts";
import { Invalid, NotFound } from "../../platform/errors.ts";
import { channelClass, type ChannelClass } from "../../routing/acd.ts";
import { agentSkillsOf, changeAccount, setAgentSkill, skillLevelsOf } from "../../routing/agent.ts";
import {
  agentState,
  choosePresence,
  chosenPresences,
  presenceOf,
  presenceView,
  setCapacity,
  validateCapacity,
} from "../../routing/presence.ts";
import {
  createQueue,
  deleteQueue,
  EntryRuleInput,
  listEntryRules,
  listQueues,
  QueueInput,
  replaceEntryRules,
  updateQueue,
} from "../../routing/queue.ts";
import { liveQueues } from "../../routing/live.ts";
import { acceptOffer, offersFor, rejectOffer } from "../../routing/offer.ts";
import { liveWorkOf } from "../../routing/work.ts";
import { body, created, errorResponses, IdParam, Json, ok, router } from "../server/http.ts";
import type { Runtime } from "../server/runtime.ts";
import { requirePermission } from "../../platform/permission.ts";
import type { AuthEnv } from "./auth.ts";

const PresenceBody = z.object({
  presence: z.enum(chosenPresences),
  reason: z.string().trim().min(1).max(100).optional(),
});
const AgentPatch = z.object({
  capacity: z
    .object({ voice: z.number().int(), chat: z.number().int(), email: z.number().int(), messaging: z.number().int() })
    .partial()
    .optional(),
  skills: z
    .array(z.object({ skill: z.string().min(1).max(100), level: z.number().int().min(1).max(5) }))
    .max(50)
    .optional(),
  // The account itself: admins only.
  name: z.string().trim().min(1).max(200).optional(),
  role: z.enum(roles).optional(),
  disabled: z.boolean().optional(),
});
const SkillBody = z.object({ name: z.string().trim().min(1).max(100) });

/**
 * Routing's API: an agent's own presence, and — for supervisors and admins — agents' skills and
 * capacity, skills, queues and entry rules. Mounted under /api/v1 behind the sign-in middleware.
 */
export function routingApi(rt: Runtime) {
  const db = rt.core.db;
  const app = router<AuthEnv>();

  app.openapi(
    createRoute({ method: "get", path: "/me/presence", responses: ok("My routing state"), tags: ["routing"] }),
    async (c) => {
      const a = c.get("actor");
      return c.json(presenceView(await agentState(db, a.workspaceId, a.userId)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/me/presence",
      request: body(PresenceBody),
      responses: ok("My routing state"),
      tags: ["routing"],
    }),
    async (c) => {
      const { presence, reason } = c.req.valid("json");
      return c.json(presenceView(await choosePresence(rt.core, c.get("actor"), presence, reason)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/me/offers",
      responses: ok("Work offered to me, waiting for my answer"),
      tags: ["routing"],
    }),
    async (c) => {
      const a = c.get("actor");
      return c.json({ items: await offersFor(db, a.workspaceId, a.userId) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/offers/{id}/accept",
      request: { params: IdParam },
      responses: ok("Accepted: the conversation is mine"),
      tags: ["routing"],
    }),
    async (c) => c.json(await acceptOffer(rt.core, c.get("actor"), c.req.valid("param").id), 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/offers/{id}/reject",
      request: { params: IdParam },
      responses: ok("Turned down: it goes to someone else"),
      tags: ["routing"],
    }),
    async (c) => {
      await rejectOffer(rt.core, c.get("actor"), c.req.valid("param").id);
      rt.router.schedule(c.get("actor").workspaceId);
      return c.json({ ok: true }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/agents",
      responses: ok("Agents with presence, skills and capacity"),
      tags: ["routing"],
    }),
    async (c) => {
      const a = c.get("actor");
      const people = await db
        .select({ id: users.id, name: users.name, email: users.email, role: users.role })
        .from(users)
        .where(and(eq(users.workspaceId, a.workspaceId), isNull(users.disabledAt), eq(users.kind, "person")))
        .orderBy(asc(users.name));
      const states = await presenceOf(
        db,
        a.workspaceId,
        people.map((p) => p.id),
      );
      const levels = await skillLevelsOf(
        db,
        people.map((p) => p.id),
      );
      const held = await liveWorkOf(
        db,
        people.map((p) => p.id),
      );
      const now = Date.now();
      return c.json(
        {
          items: people.map((p) => {
            const state = states.get(p.id)!;
            const work = held.filter((w) => w.agentId === p.id);
            // How full the agent's fullest channel is: 2 of 3 chats is 0.67, a call is 1.
            const occupancy = Math.max(
              0,
              ...(Object.keys(state.capacity) as ChannelClass[]).map((cls) => {
                const load = work.filter((w) => channelClass(w.channel) === cls).length;
                return load && state.capacity[cls]
                  ? Math.min(1, load / state.capacity[cls])
                  : cls === "voice" && load
                    ? 1
                    : 0;
              }),
            );
            return {
              ...p,
              ...presenceView(state),
              timeInStateS: Math.round((now - state.since.getTime()) / 1000),
              skills: Object.entries(levels.get(p.id)!).map(([skill, level]) => ({ skill, level })),
              work: work.map(({ agentId: _agent, ...w }) => w),
              occupancy,
            };
          }),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/agents/{id}",
      request: { params: IdParam, ...body(AgentPatch) },
      responses: ok("The agent"),
      tags: ["routing"],
    }),
    async (c) => {
      const a = c.get("actor");
      const { id } = c.req.valid("param");
      const patch = c.req.valid("json");
      const { name, role, disabled } = patch;
      const accountChange = name !== undefined || role !== undefined || disabled !== undefined;
      if (accountChange) requirePermission(a, "users.manage");
      const [user] = await db
        .select()
        .from(users)
        .where(and(eq(users.workspaceId, a.workspaceId), eq(users.id, id)));
      if (!user) throw new NotFound("Agent", "id");
      if (patch.skills?.length) {
        const names = patch.skills.map((s) => s.skill);
        const known = await db
          .select({ name: skills.name })
          .from(skills)
          .where(and(eq(skills.workspaceId, a.workspaceId), inArray(skills.name, names)));
        const missing = names.find((n) => !known.some((k) => k.name === n));
        if (missing) throw new Invalid(`Unknown skill "${missing}"`, "skills");
      }
      // Everything is checked before anything changes.
      if (patch.capacity) validateCapacity(patch.capacity);
      const account = accountChange
        ? await changeAccount(rt.core, a.workspaceId, a.userId, id, { name, role, disabled })
        : user;
      const state = patch.capacity
        ? await setCapacity(db, a.workspaceId, id, patch.capacity)
        : await agentState(db, a.workspaceId, id);
      for (const s of patch.skills ?? []) await setAgentSkill(db, a.workspaceId, id, s.skill, s.level);
      return c.json(
        {
          id: account.id,
          name: account.name,
          email: account.email,
          role: account.role,
          disabled: account.disabledAt !== null,
          ...presenceView(state),
          skills: await agentSkillsOf(db, id),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({ method: "get", path: "/skills", responses: ok("The workspace's skills"), tags: ["routing"] }),
    async (c) => {
      const rows = await db
        .select({ id: skills.id, name: skills.name })
        .from(skills)
        .where(eq(skills.workspaceId, c.get("actor").workspaceId))
        .orderBy(asc(skills.name));
      return c.json({ items: rows }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/skills",
      request: body(SkillBody),
      responses: created("Created"),
      tags: ["routing"],
    }),
    async (c) => {
      const a = c.get("actor");
      const name = c.req.valid("json").name;
      await db.insert(skills).values({ workspaceId: a.workspaceId, name }).onConflictDoNothing();
      const [row] = await db
        .select({ id: skills.id, name: skills.name })
        .from(skills)
        .where(and(eq(skills.workspaceId, a.workspaceId), eq(skills.name, name)));
      return c.json(row!, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/queues/live",
      // A plain array, one object per queue, as the public contract has it.
      responses: {
        200: {
          description: "Per queue: waiting, longest wait, service level, ASA, AHT, agents available, alerts",
          content: { "application/json": { schema: z.array(Json) } },
        },
        ...errorResponses,
      },
      tags: ["routing"],
    }),
    async (c) => {
      const a = c.get("actor");
      return c.json(await liveQueues(db, a.workspaceId), 200);
    },
  );

  app.openapi(
    createRoute({ method: "get", path: "/queues", responses: ok("Queues"), tags: ["routing"] }),
    async (c) => {
      return c.json({ items: await listQueues(db, c.get("actor").workspaceId) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/queues",
      request: body(QueueInput),
      responses: created("Created"),
      tags: ["routing"],
    }),
    async (c) => {
      const a = c.get("actor");
      return c.json(await createQueue(db, a.workspaceId, c.req.valid("json")), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/queues/{id}",
      request: { params: IdParam, ...body(QueueInput) },
      responses: ok("Updated"),
      tags: ["routing"],
    }),
    async (c) => {
      const a = c.get("actor");
      return c.json(await updateQueue(db, a.workspaceId, c.req.valid("param").id, c.req.valid("json")), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/queues/{id}",
      request: { params: IdParam },
      responses: ok("Deleted"),
      tags: ["routing"],
    }),
    async (c) => {
      const a = c.get("actor");
      await deleteQueue(db, a.workspaceId, c.req.valid("param").id);
      return c.json({ ok: true }, 200);
    },
  );

  app.openapi(
    createRoute({ method: "get", path: "/entry-rules", responses: ok("Entry rules in order"), tags: ["routing"] }),
    async (c) => {
      return c.json({ items: await listEntryRules(db, c.get("actor").workspaceId) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/entry-rules",
      request: body(z.object({ rules: z.array(EntryRuleInput).max(200) })),
      responses: ok("Entry rules in order"),
      tags: ["routing"],
    }),
    async (c) => {
      const a = c.get("actor");
      return c.json({ items: await replaceEntryRules(db, a.workspaceId, c.req.valid("json").rules) }, 200);
    },
  );

  return app;
}
